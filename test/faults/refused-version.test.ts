/**
 * "GitHub refuses this version": queued jobs get runners, and every runner exits 7 (GitHub refused its version,
 * `ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1`), so each runner Job fails by its pod failure policy.
 * Reconcile runs several passes, some while GitHub fails, and the process is restarted between them. Asserted: no
 * job is given a replacement runner (one of the same image would be refused too, in a loop), each refused runner is
 * counted once in `runner_outdated_total{profile}` and noted on its record, the jobs stay queued at GitHub, and
 * their records stay. Then the process restarts with a newer pinned image, and each job gets exactly one new runner.
 *
 * The runner pods are kept off the control plane's kwok node (a nodeSelector no node has), so that kwok does not
 * play them to success; their status is written as the kubelet would (as test/e2e/runner-exit-codes.test.ts does).
 * On the Kubernetes API stand-in (no Job controller) the Job's Failed condition is written as the controller would.
 */

import { execFile, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, expect, inject, it } from 'vitest';
import { type Config, loadConfig } from '../../shared/config/load-config.js';
import { RECORD_ANNOTATIONS } from '../../shared/records/record-schema.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { queuedPayload } from '../../stand-ins/payloads.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import { installShippedPolicy, removeShippedPolicy, shippedRbac } from '../e2e/support/shipped-policy.js';

const JOBS = 20;
const WEBHOOK_SECRET = 'refused-webhook-secret';
const GITHUB_TOKEN = 'github_pat_refused';
const RECONCILE_TOKEN = 'refused-reconcile-token';
const HOOK_ID = 292430183;
const OLD_IMAGE = 'ghcr.io/actions/actions-runner:2.338.0';
const NEW_IMAGE = 'ghcr.io/actions/actions-runner:2.339.0';
const PROFILE = 'refused';
/** One profile whose pods no node can take (see above); the image comes from RUNNER_IMAGE. */
const RUNNER_PROFILES = [
  'profiles:',
  `  - { name: ${PROFILE}, mode: standard, nodeSelector: { kube-actions-runner.dev/test: no-such-node } }`,
].join('\n');
/** What decides the shape of the function's Jobs, for the admission policy's parameters. */
const functionEnv = (image: string) => ({ RUNNER_PROFILES, RUNNER_IMAGE: image });

type KubeJob = {
  metadata: { name: string; annotations?: Record<string, string>; deletionTimestamp?: string };
  spec?: { suspend?: boolean };
  status?: { conditions?: { type: string; status: string; reason?: string; message?: string }[] };
};

/** Where the runner Jobs go, and how a runner exits 7 there. */
interface Backend {
  readonly name: string;
  readonly namespace: string;
  readonly kubeconfig: string;
  jobs(): Promise<Map<string, KubeJob>>;
  /** The runner container of the Job's pod exits 7; resolves once the Job has failed for it. */
  refuse(job: string): Promise<void>;
  /** Applies the admission policy's parameters of a new configuration (a real cluster only). */
  reconfigure(config: Config): Promise<void>;
  close(): Promise<void>;
}

const FAILED_BY_POLICY = (job: KubeJob) =>
  (job.status?.conditions ?? []).some(
    (c) => c.type === 'Failed' && c.status === 'True' && c.reason === 'PodFailurePolicy',
  );

async function until<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

async function startBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'kar-refused-'));
  const real = inject('faultsKubeconfig');
  if (!real) {
    const standIn = await startKubernetesStandIn();
    const jobs = standIn.jobs as Map<string, KubeJob>;
    return {
      name: 'Kubernetes API stand-in',
      namespace: 'default',
      kubeconfig: standIn.writeKubeconfig(dir),
      jobs: async () => jobs,
      refuse: async (name) => {
        const job = jobs.get(name);
        if (job === undefined) throw new Error(`no Job ${name}`);
        // The Job controller's condition for the FailJob rule (pkg/controller/job/pod_failure_policy.go).
        job.status = {
          conditions: [
            {
              type: 'Failed',
              status: 'True',
              reason: 'PodFailurePolicy',
              message: `Container runner for pod default/${name}-abcde failed with exit code 7 matching FailJob rule at index 0`,
            },
          ],
        };
      },
      reconfigure: async () => {},
      close: async () => {
        await standIn.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const namespace = 'refused-version';
  const kubectlArgs = (args: string[]) => ['--kubeconfig', real, ...args];
  const kubectl = (...args: string[]) =>
    execFileSync(inject('kubectl'), kubectlArgs(args), { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  const run = promisify(execFile);
  const kubectlAsync = async (...args: string[]) =>
    (await run(inject('kubectl'), kubectlArgs(args), { encoding: 'utf8' })).stdout;
  kubectl('delete', 'namespace', namespace, '--ignore-not-found', '--wait=true');
  const functionKubeconfig = shippedRbac(namespace);
  let policyConfig = configOf(OLD_IMAGE, namespace);
  await installShippedPolicy(policyConfig, functionKubeconfig);
  const jobs = async () =>
    new Map(
      (
        JSON.parse(await kubectlAsync('get', 'jobs', '-n', namespace, '-o', 'json')) as { items: KubeJob[] }
      ).items.map((item) => [item.metadata.name, item]),
    );
  return {
    name: 'real control plane (kube-apiserver, Job controller)',
    namespace,
    kubeconfig: functionKubeconfig,
    jobs,
    refuse: async (name) => {
      const pod = await until(`a pod of ${name}`, async () => {
        const out = await kubectlAsync(
          'get',
          'pods',
          '-n',
          namespace,
          '-l',
          `job-name=${name}`,
          '-o',
          'name',
        );
        return out.trim().split('\n')[0] || undefined;
      });
      const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
      const status = {
        status: {
          phase: 'Failed',
          containerStatuses: [
            {
              name: 'runner',
              image: OLD_IMAGE,
              imageID: '',
              ready: false,
              restartCount: 0,
              state: { terminated: { exitCode: 7, reason: 'Error', startedAt: now, finishedAt: now } },
            },
          ],
        },
      };
      await kubectlAsync(
        'patch',
        pod,
        '-n',
        namespace,
        '--subresource=status',
        '--type=merge',
        '-p',
        JSON.stringify(status),
      );
    },
    reconfigure: async (config) => {
      policyConfig = config;
      await installShippedPolicy(config, functionKubeconfig);
    },
    close: async () => {
      await removeShippedPolicy(policyConfig, functionKubeconfig);
      kubectl('delete', 'namespace', namespace, '--wait=false');
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function configOf(image: string, namespace: string): Config {
  return loadConfig({ WEBHOOK_SECRET, GITHUB_TOKEN, ...functionEnv(image), NAMESPACE: namespace });
}

let github: GitHubStandIn | undefined;
let kubernetes: Backend | undefined;
let server: ServerProcess | undefined;

afterAll(async () => {
  await server?.stop();
  await github?.close();
  await kubernetes?.close();
});

async function startFunction(backend: Backend, image: string): Promise<ServerProcess> {
  if (github === undefined) throw new Error('no GitHub stand-in');
  const started = await startServerProcess({
    WEBHOOK_SECRET,
    GITHUB_TOKEN,
    RECONCILE_TOKEN,
    GITHUB_API_URL: github.url,
    KUBECONFIG: backend.kubeconfig,
    NAMESPACE: backend.namespace,
    ...functionEnv(image),
    CLAIM_TTL_SECONDS: '2',
    // The refused records must outlive the run: the TTL controller deleting them is not what is asserted here.
    JOB_TTL_SECONDS: '3600',
    RECONCILE_HOOKS: `lineville/elastic-machines-testing:${HOOK_ID}`,
    GITHUB_LIMIT_INSTANCES: '1',
    GITHUB_LIMIT_WINDOW_SECONDS: '1',
    LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'warn',
  });
  github.setHook({ url: `${started.url}/webhook`, secret: WEBHOOK_SECRET, hookId: HOOK_ID });
  return started;
}

type Report = Record<string, number | boolean>;

/** One reconcile pass; a pass GitHub's faults broke (5xx) is returned as undefined, as the CronJob would retry. */
async function reconcile(on: ServerProcess): Promise<Report | undefined> {
  const response = await fetch(`${on.url}/reconcile`, {
    method: 'POST',
    headers: { authorization: `Bearer ${RECONCILE_TOKEN}` },
  });
  if (response.status >= 500) return undefined;
  expect(response.status).toBe(200);
  await github?.settled();
  return (await response.json()) as Report;
}

/** `runner_outdated_total{profile}` as the process serves it. */
async function outdatedCounted(on: ServerProcess): Promise<number> {
  const text = await (await fetch(`${on.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`runner_outdated_total{profile="${PROFILE}"}`));
  return Number(line?.split(' ').at(-1) ?? 0);
}

it(`makes no replacement for refused runners, counts each once as outdated, and recovers on a newer image (${JOBS} jobs)`, async () => {
  const began = Date.now();
  github = await startGitHubStandIn({ token: GITHUB_TOKEN });
  const backend = await startBackend();
  kubernetes = backend;
  server = await startFunction(backend, OLD_IMAGE);

  const ids = Array.from({ length: JOBS }, (_, index) => 910_000_000 + index);
  for (const id of ids) {
    const payload = queuedPayload({ jobId: id });
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const status = await github.deliver('workflow_job', payload);
    expect(status >= 200 && status < 300, `queued delivery of ${id} answered ${status}`).toBe(true);
  }
  await github.settled();
  const started = await until('every job to have a started runner', async () => {
    const jobs = await backend.jobs();
    return ids.every((id) => jobs.get(`runner-${id}`)?.spec?.suspend === false) ? jobs : undefined;
  });
  expect(started.size).toBe(JOBS);

  // GitHub refuses every runner's version: each exits 7 and its Job fails by the pod failure policy.
  await Promise.all(ids.map((id) => backend.refuse(`runner-${id}`)));
  await until('every runner Job to fail by its pod failure policy', async () => {
    const jobs = await backend.jobs();
    return ids.every((id) => {
      const job = jobs.get(`runner-${id}`);
      return job !== undefined && FAILED_BY_POLICY(job);
    })
      ? true
      : undefined;
  });

  const replacementsOf = (jobs: Map<string, KubeJob>) =>
    [...jobs.keys()].filter((name) => /^runner-\d+-\d+$/.test(name));
  const counted: number[] = [];
  const passes: (Report | undefined)[] = [];
  const tally = async () => {
    const jobs = await backend.jobs();
    expect(replacementsOf(jobs)).toEqual([]);
  };
  // Passes on the old image: GitHub failing now and then, and the process restarted between them.
  const callsBefore = github.calls.length;
  github.failNext('runners', 500, 2);
  github.inject('deliveries', { delayMs: 300 }, 2);
  passes.push(await reconcile(server));
  await tally();
  github.failNext('deliveries', 503, 1);
  passes.push(await reconcile(server));
  await tally();
  passes.push(await reconcile(server));
  await tally();
  counted.push(await outdatedCounted(server));
  await server.stop();
  server = await startFunction(backend, OLD_IMAGE);
  github.failNext('deliveries', 502, 2);
  passes.push(await reconcile(server));
  passes.push(await reconcile(server));
  await tally();
  counted.push(await outdatedCounted(server));

  // What GitHub's faults hit in these passes (reconcile's reads of runners and deliveries).
  const faulted = github.calls.slice(callsBefore).filter((call) => call.status >= 500).length;
  const view = await backend.jobs();
  for (const id of ids) {
    const job = view.get(`runner-${id}`);
    expect(job, `runner-${id}: its record is kept`).toBeDefined();
    expect(job?.metadata.deletionTimestamp, `runner-${id}: not deleted as lost`).toBeUndefined();
    expect(job?.metadata.annotations?.[RECORD_ANNOTATIONS.outdated], `runner-${id}: noted outdated`).toMatch(
      /exit code 7/,
    );
  }
  const queuedAtGitHub = async () => {
    const statuses = await Promise.all(
      ids.map(async (id) => {
        // Asked as the function asks, through GitHub's API: a fault injected above and not yet met may drop one.
        for (let attempt = 0; ; attempt += 1) {
          try {
            const response = await fetch(
              `${github?.url}/repos/lineville/elastic-machines-testing/actions/jobs/${id}`,
              { headers: { authorization: `Bearer ${GITHUB_TOKEN}` } },
            );
            if (response.ok) return ((await response.json()) as { status?: string }).status;
          } catch (error) {
            if (attempt >= 3) throw error;
          }
        }
      }),
    );
    return statuses.filter((status) => status === 'queued').length;
  };
  expect(await queuedAtGitHub()).toBe(JOBS);
  const replacementsBefore = replacementsOf(view).length;
  const reportedOutdated = passes.reduce((sum, pass) => sum + Number(pass?.outdated ?? 0), 0);

  // The operator pins a newer image; the admission policy's parameters are regenerated for it.
  await backend.reconfigure(configOf(NEW_IMAGE, backend.namespace));
  await server.stop();
  server = await startFunction(backend, NEW_IMAGE);
  // Replacing reads each job at GitHub and registers a runner: some of those fail, and must not make two.
  const callsAfter = github.calls.length;
  github.failNext('job', 500, 3);
  github.failNext('jit', 502, 2);
  github.inject('jit', { reset: true }, 1);
  const after: (Report | undefined)[] = [];
  for (let pass = 0; pass < 6; pass += 1) {
    const report = await reconcile(server);
    after.push(report);
    const jobs = await backend.jobs();
    if (ids.every((id) => jobs.get(`runner-${id}-2`)?.spec?.suspend === false)) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
  passes.push(await reconcile(server)); // one more: a pass with nothing to do makes no more runners
  const final = await backend.jobs();
  const newRunners = new Map(
    ids.map((id) => [id, [...final.keys()].filter((name) => name.startsWith(`runner-${id}-`))]),
  );
  const live = github.runners.filter((runner) => !runner.deleted);
  const problems: string[] = [];
  for (const [id, names] of newRunners) {
    if (names.length !== 1 || names[0] !== `runner-${id}-2`) problems.push(`${id}: new runners ${names}`);
    const job = final.get(`runner-${id}-2`);
    if (job?.spec?.suspend !== false) problems.push(`runner-${id}-2 not started`);
    const registrations = live.filter((runner) => runner.name === `runner-${id}-2`);
    if (registrations.length !== 1) problems.push(`runner-${id}-2: ${registrations.length} registrations`);
  }
  counted.push(await outdatedCounted(server));
  const faultedAfter = github.calls.slice(callsAfter).filter((call) => call.status >= 500).length;

  const table = {
    'Kubernetes API': backend.name,
    jobs: JOBS,
    'runners refused (exit 7)': JOBS,
    'outdated counted (per process)': counted.join(' + '),
    'outdated in reconcile reports': reportedOutdated,
    'GitHub calls faulted (refused / replacing)': `${faulted} / ${faultedAfter}`,
    'reconcile passes (5xx)': `${passes.length + after.length} (${[...passes, ...after].filter((p) => p === undefined).length})`,
    'replacements before the image change': replacementsBefore,
    'replacements after the image change': [...newRunners.values()].flat().length,
    'wall (s)': ((Date.now() - began) / 1000).toFixed(1),
  };
  process.stdout.write(
    `\nGitHub refuses this version\n${Object.entries(table)
      .map(([k, v]) => `  ${k.padEnd(38)} ${v}`)
      .join('\n')}\n`,
  );
  if (problems.length > 0) process.stdout.write(`problems:\n  ${problems.slice(0, 20).join('\n  ')}\n`);

  expect(github.violations).toEqual([]);
  expect(faulted).toBeGreaterThan(0); // the faults did bite
  expect(replacementsBefore).toBe(0);
  expect(counted.reduce((sum, n) => sum + n, 0)).toBe(JOBS);
  expect(counted.slice(1)).toEqual([0, 0]); // the restarted processes count none again
  expect(reportedOutdated).toBe(JOBS);
  expect(problems).toEqual([]);
}, 180_000);
