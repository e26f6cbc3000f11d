/**
 * `doctor` against the real control plane: a healthy setup is all ✓, and each of the usual misconfigurations is a
 * ✗ with the fix that mends it, judged by the real API server (RBAC, Pod Security admission, namespaces). GitHub
 * is the stand-in, the hook's URL the real function process.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import type { CheckResult } from '../../shared/doctor/check.js';
import { runDoctor } from '../../shared/doctor/run-doctor.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import {
  ensureNamespace,
  kubectl,
  kubectlStatus,
  serviceAccountKubeconfig,
  waitFor,
} from './support/cluster.js';

const RUNNERS = 'kar-doctor-runners';
const FUNCTION_NAMESPACE = 'kar-doctor-function';
const ACCOUNT = 'kube-actions-runner';
const AS = `system:serviceaccount:${FUNCTION_NAMESPACE}:${ACCOUNT}`;
const TOKEN = 'github_pat_doctor_e2e_token';
const SECRET = 'doctor-e2e-webhook-secret';
const doctorBundle = fileURLToPath(new URL('../../dist/doctor.cjs', import.meta.url));

/** knative/rbac.yaml in this suite's namespaces, optionally with the jobs rule changed. */
function rbac(jobVerbs?: string): string {
  let manifest = readFileSync(fileURLToPath(new URL('../../knative/rbac.yaml', import.meta.url)), 'utf8')
    .replaceAll('github-runner-jobs', RUNNERS)
    .replaceAll('github-runners', FUNCTION_NAMESPACE);
  if (jobVerbs !== undefined) {
    manifest = manifest.replace('verbs: ["create", "get", "patch", "delete", "list"]', `verbs: ${jobVerbs}`);
  }
  return manifest;
}

/**
 * Applies the Role with these job verbs and waits until the authorizer uses it: RBAC and Pod Security read
 * through informer caches, so a change is seen a moment after it is written.
 */
async function useRbac(jobVerbs?: string): Promise<void> {
  kubectl(['apply', '-f', '-'], rbac(jobVerbs));
  const patch = jobVerbs === undefined || jobVerbs.includes('"patch"') ? 'yes' : 'no';
  const update = jobVerbs?.includes('"update"') ? 'yes' : 'no';
  await waitFor('the Role to take effect', () => {
    const can = (verb: string) =>
      kubectlStatus(['auth', 'can-i', verb, 'jobs.batch', '-n', RUNNERS, '--as', AS]).output.trim();
    return can('patch') === patch && can('update') === update ? true : undefined;
  });
}

/** Labels the namespace's Pod Security enforce level (or removes it) and waits until admission uses it. */
async function enforce(level: 'restricted' | undefined): Promise<void> {
  kubectl([
    'label',
    'namespace',
    RUNNERS,
    `pod-security.kubernetes.io/enforce${level ? `=${level}` : '-'}`,
    '--overwrite',
  ]);
  const privileged = JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: 'kar-doctor-probe' },
    spec: { containers: [{ name: 'c', image: 'example.invalid/c', securityContext: { privileged: true } }] },
  });
  await waitFor('the Pod Security label to take effect', () => {
    let refused = false;
    try {
      kubectl(['create', '--dry-run=server', '-n', RUNNERS, '-f', '-'], privileged);
    } catch {
      refused = true;
    }
    return refused === (level !== undefined) ? true : undefined;
  });
}

let github: GitHubStandIn;
let server: ServerProcess;
let env: Record<string, string>;

beforeAll(async () => {
  ensureNamespace(FUNCTION_NAMESPACE);
  await useRbac();
  github = await startGitHubStandIn({ token: TOKEN });
  const accountKubeconfig = serviceAccountKubeconfig(
    mkdtempSync(join(tmpdir(), 'kar-doctor-')),
    FUNCTION_NAMESPACE,
    ACCOUNT,
  );
  server = await startServerProcess({
    WEBHOOK_SECRET: SECRET,
    GITHUB_TOKEN: TOKEN,
    GITHUB_API_URL: github.url,
    KUBECONFIG: accountKubeconfig,
    NAMESPACE: RUNNERS,
  });
  const created = await fetch(`${github.url}/repos/octo-org/app/hooks`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      name: 'web',
      config: { url: `${server.url}/webhook`, content_type: 'json', secret: SECRET },
      events: ['workflow_job'],
      active: true,
    }),
  });
  const hookId = ((await created.json()) as { id: number }).id;
  env = {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    KUBECONFIG: inject('kubeconfig'),
    WEBHOOK_SECRET: SECRET,
    GITHUB_TOKEN: TOKEN,
    GITHUB_API_URL: github.url,
    NAMESPACE: RUNNERS,
    RUNNER_MODE: 'dind',
    RECONCILE_HOOKS: `octo-org/app:${hookId}`,
  };
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await github?.close();
  expect(github.violations).toEqual([]);
  kubectlStatus(['delete', 'namespace', RUNNERS, FUNCTION_NAMESPACE, '--wait=false']);
});

/** doctor in-process, judging the function as its ServiceAccount through the admin's kubeconfig (`null`: as itself). */
const doctor = (extra: Record<string, string> = {}, as: string | null = AS) =>
  runDoctor({ env: { ...env, ...extra }, ...(as === null ? {} : { as }), timeoutMs: 20_000 });
const row = (results: CheckResult[], check: string) => results.find((result) => result.check === check);
const failed = (results: CheckResult[]) => results.filter((result) => result.status !== 'pass');

describe('doctor on the real API server', () => {
  it('passes a healthy setup, every check ✓, from the bundle the image runs', async () => {
    const { stdout } = await promisify(execFile)(process.execPath, [doctorBundle, '--as', AS, '--json'], {
      env,
    });
    const results = JSON.parse(stdout) as CheckResult[];
    expect(failed(results)).toEqual([]);
    expect(results.map((result) => result.check)).toEqual(
      expect.arrayContaining([
        'API server reachable',
        `namespace ${RUNNERS} exists`,
        'may create, get, patch, delete, list jobs.batch',
        'no more permissions than needed',
        'profile default (dind) admitted',
        'can serve octo-org/app',
      ]),
    );
    expect(JSON.stringify(results)).not.toContain(TOKEN);
  });

  it('fails dind in a namespace whose Pod Security enforces restricted, with the label that mends it', async () => {
    await enforce('restricted');
    try {
      const admitted = row(await doctor(), 'profile default (dind) admitted');
      expect(admitted?.status).toBe('fail');
      expect(admitted?.seen).toContain('violates PodSecurity "restricted:latest"');
      expect(admitted?.fix).toContain(
        `kubectl label namespace ${RUNNERS} pod-security.kubernetes.io/enforce=privileged --overwrite`,
      );
      // standard is what restricted admits.
      const standard = row(await doctor({ RUNNER_MODE: 'standard' }), 'profile default (standard) admitted');
      expect(standard?.status).toBe('pass');
    } finally {
      await enforce(undefined);
    }
  });

  it('fails a service account without patch on jobs, naming the verb and the manifest that grants it', async () => {
    await useRbac('["create", "get", "delete", "list"]');
    try {
      const jobs = row(await doctor(), 'may create, get, patch, delete, list jobs.batch');
      expect(jobs?.status).toBe('fail');
      expect(jobs?.seen).toBe(`not allowed in ${RUNNERS}: patch jobs.batch`);
      expect(jobs?.fix).toContain('kubectl apply -f knative/rbac.yaml');
    } finally {
      await useRbac();
    }
  });

  it('warns of permissions beyond what the function needs', async () => {
    await useRbac('["create", "get", "patch", "delete", "list", "update", "watch"]');
    try {
      const extra = row(await doctor(), 'no more permissions than needed');
      expect(extra?.status).toBe('warn');
      expect(extra?.seen).toMatch(
        /update jobs\.batch.*watch jobs\.batch|watch jobs\.batch.*update jobs\.batch/,
      );
    } finally {
      await useRbac();
    }
  });

  it('fails a namespace that does not exist, with the command that creates it', async () => {
    const results = await doctor({ NAMESPACE: 'kar-doctor-missing' });
    const namespace = row(results, 'namespace kar-doctor-missing exists');
    expect(namespace?.status).toBe('fail');
    expect(namespace?.fix).toContain('kubectl create namespace kar-doctor-missing');
    expect(row(results, 'profile default (dind) admitted')?.seen).toBe(
      'not run: namespace kar-doctor-missing does not exist',
    );
  });

  it('says so when --as is given with credentials that may not impersonate', async () => {
    const accountKubeconfig = serviceAccountKubeconfig(
      mkdtempSync(join(tmpdir(), 'kar-doctor-')),
      FUNCTION_NAMESPACE,
      ACCOUNT,
    );
    const results = await doctor({ KUBECONFIG: accountKubeconfig });
    const reachable = row(results, 'API server reachable');
    expect(reachable?.status).toBe('fail');
    expect(reachable?.fix).toContain('drop --as');
    expect(row(results, `namespace ${RUNNERS} exists`)?.seen).toBe(
      'not run: the check "API server reachable" failed',
    );
  });

  it("judges what it can with the function's own token: the namespace through a dry run, no Pod judged", async () => {
    const accountKubeconfig = serviceAccountKubeconfig(
      mkdtempSync(join(tmpdir(), 'kar-doctor-')),
      FUNCTION_NAMESPACE,
      ACCOUNT,
    );
    const results = await doctor({ KUBECONFIG: accountKubeconfig }, null);
    expect(row(results, 'API server reachable')?.seen).toContain(`judged as ${AS}`);
    expect(results.filter((result) => result.status === 'fail')).toEqual([]);
    expect(row(results, `namespace ${RUNNERS} exists`)?.seen).toContain('seen by a dry-run create');
    expect(row(results, 'no more permissions than needed')?.status).toBe('pass');
    const admitted = row(results, 'profile default (dind) admitted');
    expect(admitted?.status).toBe('warn');
    expect(admitted?.seen).toContain('may not create Pods');
  });
});
