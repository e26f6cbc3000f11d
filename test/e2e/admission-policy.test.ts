/**
 * knative/admission-policy.yaml, judged by the real API server: with the function's own credentials (a
 * TokenRequest token of its ServiceAccount), the Jobs and Secrets the function makes are admitted, and a Job with
 * another image, a hostPath, a foreign secretKeyRef, a service account or a privileged container, and a
 * service-account-token Secret, are refused. The cluster admin is not bound by the policy. Server-side dry runs:
 * admission runs in full, nothing is stored.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Job, V1PodSpec } from '@kubernetes/client-node';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { admissionParams } from '../../shared/admission/admission-params.js';
import { type Config, loadConfig } from '../../shared/config/load-config.js';
import { DEFAULT_RUNNER_IMAGE, RUNNER_MODES, type RunnerMode } from '../../shared/config/runner-modes.js';
import { buildJitSecret } from '../../shared/modes/build-jit-secret.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import { runnerLabels } from '../../shared/records/record-schema.js';
import { profileOf } from '../support/profiles.js';
import {
  ensureNamespace,
  kubectl,
  kubectlJson,
  kubectlStatus,
  serviceAccountKubeconfig,
  waitFor,
} from './support/cluster.js';

const knative = fileURLToPath(new URL('../../knative/', import.meta.url));
const FUNCTION_NAMESPACE = 'github-runners';
const RUNNERS = 'github-runner-jobs';
const ACCOUNT = 'kube-actions-runner';
let functionKubeconfig: string;

/** A dry-run create with the function's credentials: the answer of authorization and admission. */
function createAsFunction(object: unknown): { admitted: boolean; output: string } {
  try {
    const output = execFileSync(
      inject('kubectl'),
      ['--kubeconfig', functionKubeconfig, 'create', '--dry-run=server', '-f', '-', '-o', 'name'],
      { encoding: 'utf8', input: JSON.stringify(object), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    return { admitted: true, output };
  } catch (error) {
    return { admitted: false, output: (error as { stderr?: string }).stderr ?? '' };
  }
}

function configOf(env: Record<string, string>): Config {
  return loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', NAMESPACE: RUNNERS, ...env });
}

/**
 * The Job the function would record for job `jobId` in `mode`, built by the real builder; with `release`, the
 * Job of a profile that follows GitHub's releases once that one is the newest.
 */
function runnerJob(mode: RunnerMode, jobId = 42, release?: string): V1Job {
  const fields = {
    owner: 'octo-org',
    repo: 'app',
    jobId,
    runId: 1,
    runAttempt: 1,
    deliveryId: 'd',
    hookId: undefined,
    installationId: undefined,
    jobLabels: ['self-hosted'],
  };
  return buildRecordJob(configOf({}), profileOf(mode), fields, undefined, undefined, release);
}

/** The same Job with its pod changed the way a thief of the function's credentials would. */
function tampered(change: (spec: V1PodSpec, job: V1Job) => void, mode: RunnerMode = 'standard'): V1Job {
  const job = structuredClone(runnerJob(mode));
  change(job.spec?.template.spec as V1PodSpec, job);
  return job;
}

/** Applies the parameters generated from these profiles, and waits until the API server uses them. */
async function useParams(config: Config, probe: V1Job): Promise<void> {
  kubectl(['apply', '-f', '-'], dump(admissionParams(config)));
  await waitFor(
    'the new parameters to apply',
    () => (createAsFunction(probe).admitted ? true : undefined),
    30_000,
  );
}

beforeAll(async () => {
  ensureNamespace(FUNCTION_NAMESPACE);
  kubectl(['apply', '-f', `${knative}rbac.yaml`]);
  kubectl(['apply', '-f', `${knative}admission-policy.yaml`]);
  functionKubeconfig = serviceAccountKubeconfig(
    mkdtempSync(join(tmpdir(), 'kar-vap-')),
    FUNCTION_NAMESPACE,
    ACCOUNT,
  );
  // Parameters for every mode but dind: no privileged container allowed.
  const profiles = RUNNER_MODES.filter((mode) => mode !== 'dind').map((mode, index) =>
    [`  - name: p${index}`, `    match: p${index}`, `    mode: ${mode}`].join('\n'),
  );
  await useParams(configOf({ RUNNER_PROFILES: `profiles:\n${profiles.join('\n')}` }), runnerJob('standard'));
  // The policy itself is in force once a Job it refuses is refused (policies reach the API server's cache later).
  await waitFor(
    'the policy to apply',
    () =>
      createAsFunction(
        tampered((spec) => {
          spec.hostNetwork = true;
        }),
      ).admitted
        ? undefined
        : true,
    30_000,
  );
}, 120_000);

afterAll(async () => {
  // Other suites create Jobs with this ServiceAccount in other namespaces, without parameters there: they run once
  // the API server no longer judges by the policy.
  kubectlStatus(['delete', '-f', `${knative}admission-policy.yaml`, '--wait=false']);
  const unfit = tampered((spec) => {
    spec.hostNetwork = true;
  });
  await waitFor('the policy to be gone', () => (createAsFunction(unfit).admitted ? true : undefined), 60_000);
}, 120_000);

describe('the admission policy, with the function’s credentials', () => {
  it('type-checks against the Job and Secret schemas (no expression warnings)', () => {
    for (const name of ['kube-actions-runner-jobs', 'kube-actions-runner-secrets']) {
      const policy = kubectlJson<{ status?: { typeChecking?: { expressionWarnings?: unknown[] } } }>([
        'get',
        'validatingadmissionpolicy',
        name,
      ]);
      expect(policy.status?.typeChecking?.expressionWarnings ?? [], name).toEqual([]);
    }
  });

  it.each(RUNNER_MODES.filter((mode) => mode !== 'dind'))('admits the %s Job the function makes', (mode) => {
    const answer = createAsFunction(runnerJob(mode));
    expect(answer.output).toContain('job.batch/runner-42');
    expect(answer.admitted).toBe(true);
  });

  it('admits the official image of a newer runner release: the profiles follow releases', () => {
    const job = runnerJob('standard', 42, '2.340.0');
    expect(job.spec?.template.spec?.containers[0]?.image).toBe('ghcr.io/actions/actions-runner:2.340.0');
    const answer = createAsFunction(job);
    expect(answer.output).toContain('job.batch/runner-42');
    expect(answer.admitted).toBe(true);
  });

  it('admits the function patching its Job (claim, resume): UPDATE is judged too', () => {
    const job = runnerJob('standard', 77);
    const asFunction = (args: string[], input?: string) =>
      execFileSync(inject('kubectl'), ['--kubeconfig', functionKubeconfig, ...args], {
        encoding: 'utf8',
        ...(input === undefined ? {} : { input }),
        stdio: ['pipe', 'pipe', 'pipe'],
      });
    expect(asFunction(['create', '-f', '-', '-o', 'name'], JSON.stringify(job))).toContain('runner-77');
    try {
      const patch = JSON.stringify({
        metadata: { annotations: { 'kube-actions-runner.dev/claim': '' } },
        spec: { suspend: false },
      });
      expect(asFunction(['patch', 'job', 'runner-77', '-n', RUNNERS, '--type=merge', '-p', patch])).toContain(
        'patched',
      );
    } finally {
      kubectl(['delete', 'job', 'runner-77', '-n', RUNNERS, '--wait=false']);
    }
  });

  it('admits the JIT Secret the function makes', () => {
    const secret = buildJitSecret({
      namespace: RUNNERS,
      job: { name: 'runner-42', uid: '5f2a8a5e-4e1c-4c1e-9d1a-6c4b1f0e2d3c' },
      labels: runnerLabels({ owner: 'octo-org', repo: 'app', jobId: 42 }),
      encodedJitConfig: 'e30=',
    });
    const answer = createAsFunction(secret);
    expect(answer.output).toContain('secret/runner-42');
    expect(answer.admitted).toBe(true);
  });

  const refused: [string, () => unknown, RegExp][] = [
    [
      'a Job with another image',
      () =>
        tampered((spec) => {
          (spec.containers[0] as { image: string }).image = 'alpine:3';
        }),
      /image not in the runner profiles .*: alpine:3/,
    ],
    [
      'an official runner image tagged other than by a release version',
      () =>
        tampered((spec) => {
          (spec.containers[0] as { image: string }).image = 'ghcr.io/actions/actions-runner:latest';
        }),
      /image not in the runner profiles .*: ghcr\.io\/actions\/actions-runner:latest/,
    ],
    [
      'a Job mounting a hostPath',
      () =>
        tampered((spec) => {
          spec.volumes = [...(spec.volumes ?? []), { name: 'root', hostPath: { path: '/' } }];
        }),
      /no hostPath/,
    ],
    [
      "a Job reading the function's own Secret",
      () =>
        tampered((spec) => {
          const container = spec.containers[0] as { env?: unknown[] };
          container.env = [
            ...(container.env ?? []),
            {
              name: 'STOLEN',
              valueFrom: { secretKeyRef: { name: 'kube-actions-runner-secrets', key: 'github-token' } },
            },
          ];
        }),
      /reads only its own Secret/,
    ],
    [
      'a Job reading another runner’s Secret through envFrom',
      () =>
        tampered((spec) => {
          (spec.containers[0] as { envFrom?: unknown[] }).envFrom = [{ secretRef: { name: 'runner-43' } }];
        }),
      /reads only its own Secret/,
    ],
    [
      'a Job with a service account',
      () =>
        tampered((spec) => {
          spec.serviceAccountName = 'default';
          spec.automountServiceAccountToken = true;
        }),
      /no service account token/,
    ],
    [
      'a Job on the host network',
      () =>
        tampered((spec) => {
          spec.hostNetwork = true;
        }),
      /no host namespace/,
    ],
    [
      'a privileged Job without a dind profile',
      () => runnerJob('dind'),
      /image not in the runner profiles|privileged containers/,
    ],
    [
      'a privileged container with an allowed image',
      () =>
        tampered((spec) => {
          (spec.containers[0] as { securityContext?: unknown }).securityContext = { privileged: true };
        }),
      /privileged containers and added capabilities only with a dind profile/,
    ],
    [
      'a Job not named runner-<job id>',
      () =>
        tampered((_spec, job) => {
          (job.metadata as { name: string }).name = 'miner';
        }),
      /Jobs named runner-<job id>/,
    ],
    [
      'a service-account-token Secret',
      () => ({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'kubernetes.io/service-account-token',
        metadata: {
          name: 'runner-44',
          namespace: RUNNERS,
          annotations: { 'kubernetes.io/service-account.name': 'default' },
        },
      }),
      /only make Opaque Secrets/,
    ],
    [
      'an Opaque Secret with another name',
      () => ({
        apiVersion: 'v1',
        kind: 'Secret',
        type: 'Opaque',
        metadata: { name: 'x', namespace: RUNNERS },
      }),
      /Secrets named runner-<job id>/,
    ],
  ];
  it.each(refused)('refuses %s', (_what, object, reason) => {
    const answer = createAsFunction(object());
    expect(answer.admitted).toBe(false);
    expect(answer.output).toContain('ValidatingAdmissionPolicy');
    expect(answer.output).toMatch(reason);
  });

  it('binds only the function: the cluster admin may still create another Job there', () => {
    const job = tampered((spec) => {
      (spec.containers[0] as { image: string }).image = 'alpine:3';
    });
    const output = kubectl(['create', '--dry-run=server', '-f', '-', '-o', 'name'], JSON.stringify(job));
    expect(output).toContain('job.batch/runner-42');
  });

  it('admits the dind Job once the parameters come from profiles with a dind profile', async () => {
    await useParams(configOf({ RUNNER_MODE: 'dind' }), runnerJob('dind'));
    expect(createAsFunction(runnerJob('dind')).admitted).toBe(true);
  });

  it('refuses a newer runner release once the parameters come from pinned profiles', async () => {
    const newer = runnerJob('standard', 42, '2.340.0');
    kubectl(['apply', '-f', '-'], dump(admissionParams(configOf({ RUNNER_IMAGE: DEFAULT_RUNNER_IMAGE }))));
    await waitFor(
      'the pinned parameters to apply',
      () => (createAsFunction(newer).admitted ? undefined : true),
      30_000,
    );
    expect(createAsFunction(newer).output).toMatch(
      /image not in the runner profiles .*actions-runner:2\.340\.0/,
    );
    expect(createAsFunction(runnerJob('standard')).admitted).toBe(true);
  });

  it('refuses every Job in a namespace without parameters', () => {
    ensureNamespace('kar-no-params');
    const job = runnerJob('standard');
    (job.metadata as { namespace: string }).namespace = 'kar-no-params';
    // Made anew: a control plane kept between runs (KEEP_CONTROL_PLANE=1) still has the last run's.
    kubectlStatus(['delete', 'rolebinding', 'kar-no-params', '-n', 'kar-no-params', '--ignore-not-found']);
    kubectl([
      'create',
      'rolebinding',
      'kar-no-params',
      '-n',
      'kar-no-params',
      '--clusterrole=admin',
      `--serviceaccount=${FUNCTION_NAMESPACE}:${ACCOUNT}`,
    ]);
    const answer = createAsFunction(job);
    expect(answer.admitted).toBe(false);
    expect(answer.output).toMatch(/ValidatingAdmissionPolicy|param/i);
  });
});

describe('two namespaces', () => {
  it("keep the function's credentials out of its own namespace", () => {
    const can = (verb: string, resource: string, namespace: string) =>
      kubectlStatus([
        'auth',
        'can-i',
        verb,
        resource,
        '-n',
        namespace,
        '--as',
        `system:serviceaccount:${FUNCTION_NAMESPACE}:${ACCOUNT}`,
      ]).output.trim();
    expect(can('create', 'jobs.batch', RUNNERS)).toBe('yes');
    expect(can('create', 'jobs.batch', FUNCTION_NAMESPACE)).toBe('no');
    expect(can('get', 'secrets', FUNCTION_NAMESPACE)).toBe('no');
    expect(can('create', 'secrets', FUNCTION_NAMESPACE)).toBe('no');
  });
});
