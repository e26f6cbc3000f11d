/**
 * `npm run test:faults`: 500 queued jobs driven through the real function process while GitHub and the
 * Kubernetes API fail, stall and drop connections, every delivery comes twice, some jobs are cancelled before
 * their queued delivery arrives and some after it (while their runner is being started, or while the process is
 * down), runners are capped (MAX_RUNNERS, so many jobs wait for a slot and start as runners finish), and the
 * process is killed mid-run and restarted. Then reconcile runs until it has nothing left to do. Printed and
 * asserted: no job lost, none given two runners, nothing left behind, no cancelled job left with a Job or a
 * registration.
 *
 * Runs against the real control plane (behind a fault-injecting proxy) when it can be started, else against the
 * Kubernetes API stand-in; FAULTS_BACKEND=stand-in forces the stand-in.
 * FAULTS_JOBS, FAULTS_SEED and FAULTS_MAX_RUNNERS change the size, the replayable random sequence and the cap.
 */

import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, inject, it } from 'vitest';
import { loadConfig } from '../../shared/config/load-config.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { completedPayload, inProgressPayload, queuedPayload } from '../../stand-ins/payloads.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import { installShippedPolicy, removeShippedPolicy, shippedRbac } from '../e2e/support/shipped-policy.js';
import { startApiProxy } from './api-proxy.js';
import { seededRandom } from './seeded-random.js';

const JOBS = Number(process.env.FAULTS_JOBS ?? 500);
const SEED = Number(process.env.FAULTS_SEED ?? 20261128);
const CONCURRENCY = 25;
/** Below the number of jobs, so that many wait for a slot; Jobs on the control plane's fake node finish quickly. */
const MAX_RUNNERS = Number(process.env.FAULTS_MAX_RUNNERS ?? Math.ceil(JOBS * 0.1));
const WEBHOOK_SECRET = 'faults-webhook-secret';
const GITHUB_TOKEN = 'github_pat_faults';
const RECONCILE_TOKEN = 'faults-reconcile-token';
const HOOK_ID = 292430182;
/** Jobs given runners made for other jobs (a gpu job's runner taking a small job), each with its in_progress delivery. */
const STOLEN = Number(process.env.FAULTS_STOLEN ?? 6);

/** What decides the shape of the function's Jobs, for the admission policy's parameters. */
const FUNCTION_ENV = { RUNNER_MODE: 'standard' };

let github: GitHubStandIn;
type KubeObject = {
  metadata: { name: string; uid?: string; ownerReferences?: { uid: string }[] };
  spec?: { suspend?: boolean };
  data?: Record<string, string>;
};

/** Where the runner Jobs go: the real control plane behind a fault proxy when it is up, else the stand-in. */
interface Backend {
  readonly name: string;
  readonly namespace: string;
  readonly kubeconfig: string;
  chaos(
    probability: number,
    faults: readonly { status?: number; delayMs?: number }[],
    random: () => number,
  ): void;
  view(): Promise<{
    jobs: Map<string, KubeObject>;
    secrets: Map<string, KubeObject>;
    leases: Map<string, KubeObject>;
  }>;
  close(): Promise<void>;
}

async function startBackend(): Promise<Backend> {
  const dir = mkdtempSync(join(tmpdir(), 'kar-faults-'));
  const real = inject('faultsKubeconfig');
  if (!real) {
    const standIn = await startKubernetesStandIn();
    return {
      name: 'Kubernetes API stand-in',
      namespace: 'default',
      kubeconfig: standIn.writeKubeconfig(dir),
      chaos: standIn.chaos,
      view: async () => ({
        jobs: standIn.jobs as Map<string, KubeObject>,
        secrets: standIn.secrets as Map<string, KubeObject>,
        leases: standIn.leases as Map<string, KubeObject>,
      }),
      close: async () => {
        await standIn.close();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const namespace = `faults-${SEED}`;
  const kubectl = (...args: string[]) =>
    execFileSync(inject('kubectl'), ['--kubeconfig', real, ...args], {
      encoding: 'utf8',
      maxBuffer: 256 * 1024 * 1024,
    });
  kubectl('create', 'namespace', namespace);
  // The install's own rules: the function acts as its ServiceAccount with knative/rbac.yaml's Role (here in the
  // run's namespace), under knative/admission-policy.yaml and the parameters generated for this configuration, so
  // a Job or Secret the lifecycle makes (a replacement, say) that they refuse fails the run.
  const functionKubeconfig = shippedRbac(namespace);
  const policyConfig = loadConfig({ WEBHOOK_SECRET, GITHUB_TOKEN, ...FUNCTION_ENV, NAMESPACE: namespace });
  await installShippedPolicy(policyConfig, functionKubeconfig);
  const proxy = await startApiProxy(functionKubeconfig);
  const list = (kind: string) =>
    new Map(
      (JSON.parse(kubectl('get', kind, '-n', namespace, '-o', 'json')) as { items: KubeObject[] }).items.map(
        (item) => [item.metadata.name, item],
      ),
    );
  return {
    name: 'real control plane (kube-apiserver, controllers, kwok node) behind a fault proxy',
    namespace,
    kubeconfig: proxy.writeKubeconfig(dir, namespace),
    chaos: proxy.chaos,
    view: async () => ({ jobs: list('jobs'), secrets: list('secrets'), leases: list('leases') }),
    close: async () => {
      await proxy.close();
      await removeShippedPolicy(policyConfig, functionKubeconfig);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let kubernetes: Backend;
let server: ServerProcess | undefined;
/** Every function process of the run (the killed one too), for the trace of a job that went wrong. */
const processes: ServerProcess[] = [];

afterAll(async () => {
  await server?.stop();
  await github?.close();
  await kubernetes?.close();
});

async function startFunction(kubeconfig: string, namespace: string): Promise<ServerProcess> {
  const started = await startServerProcess({
    WEBHOOK_SECRET,
    GITHUB_TOKEN,
    RECONCILE_TOKEN,
    GITHUB_API_URL: github.url,
    KUBECONFIG: kubeconfig,
    NAMESPACE: namespace,
    ...FUNCTION_ENV,
    CLAIM_TTL_SECONDS: '2',
    MAX_RUNNERS: String(MAX_RUNNERS),
    // The stand-in runs no runners, so the registration of a Job whose pod finished stays; with a TTL shorter than
    // the run (a loaded machine makes it long), the record would go and reconcile remove that registration as an
    // orphan, and the tally would count a lost job where a real runner would have run it.
    JOB_TTL_SECONDS: '3600',
    RECONCILE_HOOKS: `lineville/elastic-machines-testing:${HOOK_ID}`,
    // One process and GitHub's whole budget, counted over a second: GitHub's limits are not what this run measures
    // (test/faults/rate-limits.test.ts does); its injected 429s still pause the credential for their retry-after.
    GITHUB_LIMIT_INSTANCES: '1',
    GITHUB_LIMIT_WINDOW_SECONDS: '1',
    LOG_LEVEL: process.env.FAULTS_LOG_LEVEL ?? 'warn',
  });
  processes.push(started);
  github.setHook({ url: `${started.url}/webhook`, secret: WEBHOOK_SECRET, hookId: HOOK_ID });
  return started;
}

async function pool<T>(items: readonly T[], size: number, work: (item: T, index: number) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) {
        const index = next++;
        await work(items[index] as T, index);
      }
    }),
  );
}

it(`loses no job, runs none twice and leaves nothing behind, under faults (${JOBS} jobs)`, async () => {
  const random = seededRandom(SEED);
  github = await startGitHubStandIn({ token: GITHUB_TOKEN });
  kubernetes = await startBackend();
  const { kubeconfig, namespace } = kubernetes;
  server = await startFunction(kubeconfig, namespace);

  const jobs = Array.from({ length: JOBS }, (_, index) => {
    // One job in ten asks for a gpu: its runner can take a small job, the small job's runner cannot take it.
    const base = queuedPayload({ jobId: 900_000_000 + index });
    const payload =
      index % 10 === 3
        ? queuedPayload({ jobId: 900_000_000 + index, labels: [...base.workflow_job.labels, 'gpu'] })
        : base;
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const draw = random();
    // 10% cancelled before their queued delivery, 6% after it (racing the start, or the restart).
    const cancelled: 'before' | 'after' | false = draw < 0.1 ? 'before' : draw < 0.16 ? 'after' : false;
    return { payload, cancelled };
  });

  github.chaos(
    0.15,
    [
      { status: 500 },
      { status: 502 },
      { status: 503 },
      { status: 429, retryAfterSeconds: 1 },
      { delayMs: 300 },
      { reset: true },
    ],
    random,
  );
  kubernetes.chaos(
    0.08,
    [{ status: 500 }, { status: 503 }, { status: 409 }, { delayMs: 300 }, { delayMs: 5000 }],
    random,
  );

  const started = Date.now();
  const killAt = Math.floor(JOBS * 0.4);
  let restarting: Promise<void> | undefined;
  await pool(jobs, CONCURRENCY, async (job, index) => {
    if (index === killAt && restarting === undefined) {
      // Killed mid-request, as when a node dies or Knative scales down hard: no graceful shutdown.
      restarting = (async () => {
        server?.process.kill('SIGKILL');
        await new Promise((resolve) => setTimeout(resolve, 500));
        server = await startFunction(kubeconfig, namespace);
      })();
    }
    const { payload } = job;
    if (job.cancelled === 'before') {
      // Out of order: the job is cancelled and its completed delivery arrives before the queued one.
      github.setJobStatus(payload.workflow_job.id, 'completed');
      await github.deliver('workflow_job', completedPayload(payload));
    }
    // Every delivery comes twice (same GUID, as a redelivery): half at the same moment, half one after the other.
    const guid = randomUUID();
    if (random() < 0.5) {
      await Promise.all([
        github.deliver('workflow_job', payload, { guid }),
        github.deliver('workflow_job', payload, { guid }),
      ]);
    } else {
      await github.deliver('workflow_job', payload, { guid });
      await github.deliver('workflow_job', payload, { guid });
    }
    if (job.cancelled === 'after') {
      // Cancelled once queued: its cancellation races the start of its runner (and, near the kill, the restart).
      github.setJobStatus(payload.workflow_job.id, 'completed');
      await github.deliver('workflow_job', completedPayload(payload));
    }
  });
  await restarting;
  await github.settled();

  // Runners taken by another job, while the weather is still bad: GitHub gives a small job to a gpu job's
  // runner, and says so in an in_progress delivery; the gpu job must get a replacement runner.
  // Only a runner that is up can take a job: a started Job (not one an interrupted start left suspended).
  const before = await kubernetes.view();
  const live = (name: string) =>
    before.jobs.get(name)?.spec?.suspend === false &&
    github.runners.some((runner) => runner.name === name && !runner.deleted && !runner.busy);
  const standing = jobs.filter((job) => !job.cancelled && live(`runner-${job.payload.workflow_job.id}`));
  const gpus = standing.filter((job) => job.payload.workflow_job.labels.includes('gpu')).slice(0, STOLEN);
  const smalls = standing.filter((job) => !job.payload.workflow_job.labels.includes('gpu'));
  const stolen = new Map<number, number>(); // small job id -> the gpu job whose runner took it
  for (const [index, gpu] of gpus.entries()) {
    const small = smalls[index];
    if (small === undefined) break;
    const runner = github.giveJob(small.payload.workflow_job.id, `runner-${gpu.payload.workflow_job.id}`);
    stolen.set(small.payload.workflow_job.id, gpu.payload.workflow_job.id);
    await github.deliver('workflow_job', inProgressPayload(small.payload, runner));
  }
  await github.settled();
  const deliveryWall = Date.now() - started;

  // The weather clears; reconcile until a pass finds nothing to do.
  github.chaos(0, [], random);
  kubernetes.chaos(0, [], random);
  const passes: Record<string, number | boolean>[] = [];
  let failedPasses = 0;
  for (let pass = 0; pass < 40; pass += 1) {
    await new Promise((resolve) => setTimeout(resolve, 2100)); // let claims of interrupted attempts expire
    const response = await fetch(`${server.url}/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${RECONCILE_TOKEN}` },
    });
    if (response.status !== 200) {
      // A pass the API server failed (a list timed out on a loaded machine) did nothing: the CronJob calls again,
      // and so does this loop. Its error is printed; the tally below judges what the passes leave behind.
      const { errorId } = (await response.json()) as { errorId?: string };
      await server.logged((entry) => entry.errorId === errorId);
      const line = server.logs().find((entry) => entry.errorId === errorId);
      process.stdout.write(
        `reconcile answered ${response.status}: ${JSON.stringify(line?.err ?? errorId)}\n`,
      );
      expect(response.status).toBeGreaterThanOrEqual(500);
      failedPasses += 1;
      continue;
    }
    const report = (await response.json()) as Record<string, number | boolean>;
    await github.settled();
    passes.push(report);
    const work = [
      'started',
      'waiting',
      'removed',
      'surplus',
      'orphans',
      'replaced',
      'timedOut',
      'died',
      'redelivered',
      'restored',
      'resetsUnderWay',
      'failures',
    ].reduce((sum, key) => sum + Number(report[key]), 0);
    if (work === 0 && !report.truncated) break;
  }

  // Tally against the truth.
  const liveRunners = github.runners.filter((runner) => !runner.deleted);
  // On a real cluster the garbage collector removes the Secrets of deleted Jobs a moment later.
  let view = await kubernetes.view();
  for (let wait = 0; wait < 60; wait += 1) {
    const orphanSecrets = [...view.secrets.values()].filter(
      (secret) =>
        view.jobs.get(secret.metadata.name)?.metadata.uid !== secret.metadata.ownerReferences?.[0]?.uid,
    );
    if (orphanSecrets.length === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 500));
    view = await kubernetes.view();
  }
  const jobsByName = view.jobs;
  let lost = 0;
  let duplicated = 0;
  let orphans = 0;
  let cancelledLeft = 0;
  let created = 0;
  const problems: string[] = [];
  /** A job's runners: its own (`runner-<id>`) and replacements (`runner-<id>-<n>`), idle ones (able to take it). */
  const runnersOf = (id: number) =>
    liveRunners.filter((runner) => runner.name === `runner-${id}` || runner.name.startsWith(`runner-${id}-`));
  const gaveRunner = new Set(stolen.values());
  for (const { payload, cancelled } of jobs) {
    const id = payload.workflow_job.id;
    if (stolen.has(id)) {
      // It ran on another job's runner; its own runner may stay for another job, or go as surplus.
      if (runnersOf(id).length > 1) {
        duplicated += 1;
        problems.push(`runner-${id}: ran elsewhere, yet ${runnersOf(id).length} runners`);
      }
      continue;
    }
    // A job whose runner was taken waits for its replacement: the idle one among its runners.
    const registrations = runnersOf(id).filter((runner) => !runner.busy);
    const name = gaveRunner.has(id) ? (registrations[0]?.name ?? `runner-${id}-2`) : `runner-${id}`;
    const job = jobsByName.get(name);
    const secret = view.secrets.get(name);
    if (cancelled) {
      // A cancelled job keeps nothing: a Job left waits (or runs) for nothing, a registration can take another job.
      if (job || registrations.length > 0 || secret) {
        cancelledLeft += 1;
        problems.push(
          `${name}: cancelled but left ${job ? 'a Job ' : ''}${registrations.length} runners ${secret ? 'a Secret' : ''}`,
        );
      }
      continue;
    }
    if (registrations.length > 1) {
      duplicated += 1;
      problems.push(`${name}: ${registrations.length} runners`);
    }
    const started = job !== undefined && job.spec?.suspend === false;
    const config = secret && Buffer.from(secret.data?.jitconfig ?? '', 'base64').toString();
    if (!started || registrations.length !== 1 || config !== registrations[0]?.encodedJitConfig) {
      lost += 1;
      problems.push(
        `${name}: started=${started} runners=${registrations.length} secretMatches=${config === registrations[0]?.encodedJitConfig}`,
      );
    } else {
      created += 1;
    }
  }
  const ids = new Set(jobs.map(({ payload }) => String(payload.workflow_job.id)));
  for (const runner of liveRunners) if (!ids.has(/^runner-(\d+)/.exec(runner.name)?.[1] ?? '')) orphans += 1;
  for (const [name, secret] of view.secrets) {
    const owner = secret.metadata.ownerReferences?.[0]?.uid;
    if (jobsByName.get(name)?.metadata.uid !== owner) {
      orphans += 1;
      problems.push(`secret ${name} has no owner Job`);
    }
  }
  for (const job of jobsByName.values()) {
    if (job.spec?.suspend === true) {
      orphans += 1;
      problems.push(`${job.metadata.name} left suspended`);
    }
  }
  // Reset marks are cleared once their reset is done or repaired; one left over is an orphan.
  for (const lease of view.leases.values()) {
    // A slot held by a Job that still exists is capacity in use (freed when the Job finishes, or with it by the
    // garbage collector); a slot of a Job that is gone, or any reset mark, is left behind.
    const holder = lease.metadata.ownerReferences?.[0]?.uid;
    const held = holder !== undefined && [...jobsByName.values()].some((job) => job.metadata.uid === holder);
    if (lease.metadata.name.startsWith('kar-slot-') && held) continue;
    // A credential's pause (kar-pause-<hash>) is one Lease per credential, kept for the next limit: not a leftover.
    if (lease.metadata.name.startsWith('kar-pause-')) continue;
    // A credential's share of GitHub's limits (kar-budget-<hash>), the fleet's ledger: one Lease per credential, kept.
    if (lease.metadata.name.startsWith('kar-budget-')) continue;
    // A webhook's delivery mark (kar-deliveries-<hash>): how far back reconcile has looked, kept for the next pass.
    if (lease.metadata.name.startsWith('kar-deliveries-')) continue;
    orphans += 1;
    problems.push(`lease ${lease.metadata.name} left behind`);
  }

  const requested = jobs.filter((job) => !job.cancelled).length;
  const attempts = github.deliveries.length;
  const failedAttempts = github.deliveries.filter((d) => d.statusCode < 200 || d.statusCode >= 300).length;
  const table = {
    'Kubernetes API': kubernetes.name,
    seed: SEED,
    jobs: JOBS,
    'jobs requested (not cancelled)': requested,
    'cancelled before queued': jobs.filter((job) => job.cancelled === 'before').length,
    'cancelled after queued': jobs.filter((job) => job.cancelled === 'after').length,
    'runner cap (MAX_RUNNERS)': MAX_RUNNERS,
    'runners taken by another job': stolen.size,
    'replacements made': [...gaveRunner].filter((id) => runnersOf(id).some((r) => r.name !== `runner-${id}`))
      .length,
    'delivery attempts answered 202': github.deliveries.filter((d) => d.statusCode === 202).length,
    'records reconcile left waiting': passes.reduce((sum, pass) => sum + Number(pass.waiting), 0),
    'delivery attempts': attempts,
    'attempts not answered 2xx': failedAttempts,
    'GitHub API calls': github.calls.length,
    'reconcile passes': passes.length,
    'reconcile passes answered 5xx': failedPasses,
    'records made again from reset marks': passes.reduce((sum, pass) => sum + Number(pass.restored), 0),
    'runners created': created,
    lost,
    duplicated,
    'orphans left': orphans,
    'cancelled-left': cancelledLeft,
    'delivery phase (s)': (deliveryWall / 1000).toFixed(1),
  };
  process.stdout.write(
    `\nfault-injection run\n${Object.entries(table)
      .map(([k, v]) => `  ${k.padEnd(32)} ${v}`)
      .join('\n')}\n`,
  );
  process.stdout.write(`reconcile passes: ${JSON.stringify(passes)}\n`);
  if (problems.length > 0)
    process.stdout.write(`problems (first 20):\n  ${problems.slice(0, 20).join('\n  ')}\n`);
  // What happened to each job that went wrong: its registrations at GitHub, the calls on them, and the function's
  // log lines naming it (at FAULTS_LOG_LEVEL=info, every step).
  for (const problem of problems.slice(0, 5)) {
    const name = /^runner-\d+/.exec(problem)?.[0];
    if (name === undefined) continue;
    const registrations = github.runners.filter((runner) => runner.name === name);
    const ids = new Set(registrations.map((runner) => String(runner.id)));
    const calls = github.calls.filter((call) => ids.has(call.path.split('/').at(-1) ?? ''));
    const lines = processes.flatMap((p, index) =>
      p
        .logs()
        .filter((line) => {
          const text = JSON.stringify(line);
          return text.includes(name) || text.includes(`"jobId":${name.slice(7)}`);
        })
        .map((line) => ({ process: index, ...line })),
    );
    const job = view.jobs.get(name) as
      | (KubeObject & { metadata: { annotations?: object; creationTimestamp?: string } })
      | undefined;
    const secret = view.secrets.get(name) as
      | (KubeObject & { metadata: { creationTimestamp?: string } })
      | undefined;
    const config = Buffer.from(secret?.data?.jitconfig ?? '', 'base64').toString();
    const secretOf = github.runners.find((runner) => runner.encodedJitConfig === config);
    process.stdout.write(
      `trace ${name}: job uid ${job?.metadata.uid} made ${job?.metadata.creationTimestamp} ${JSON.stringify(job?.metadata.annotations ?? {})}\n` +
        `  secret owner ${secret?.metadata.ownerReferences?.[0]?.uid} made ${secret?.metadata.creationTimestamp} holds ${secretOf ? `${secretOf.name}#${secretOf.id}` : 'an unknown config'}\n` +
        `  registrations ${JSON.stringify(registrations.map(({ id, deleted }) => ({ id, deleted })))}\n` +
        `  calls ${JSON.stringify(calls.map(({ method, path, status, at }) => `${new Date(at).toISOString()} ${method} ${path} ${status}`))}\n` +
        lines.map((line) => `  ${JSON.stringify(line)}`).join('\n') +
        '\n',
    );
  }

  expect(failedAttempts).toBeGreaterThan(0); // the faults did bite
  expect(github.violations).toEqual([]);
  process.stdout.write(
    `lost ${lost}, duplicated ${duplicated}, orphans ${orphans}, cancelled-left ${cancelledLeft}\n`,
  );
  expect({ lost, duplicated, orphans, cancelledLeft }).toEqual({
    lost: 0,
    duplicated: 0,
    orphans: 0,
    cancelledLeft: 0,
  });
  expect(created + stolen.size).toBe(requested);
}, 600_000);
