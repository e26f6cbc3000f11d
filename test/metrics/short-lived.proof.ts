/**
 * The metrics proof, with real components: 30 function processes (the built bundle, as `npm start` runs it), one
 * after another and some at once, each handling a few deliveries and stopping, as scale-to-zero instances do. They
 * push to a real statsd_exporter (built from its Go module, with the shipped mapping), which a real Prometheus
 * scrapes every second. `increase()` over the window must equal what was sent, within 0, for the counters and for
 * the job-time histograms (pushed as counters: each job started is taken and completed by its runner);
 * every dashboard query must return data; the per-credential gauges keep their series; the registration-time
 * histogram counts one observation per runner created; and runner_jobs_active falls to the truth once the
 * runners finish while no instance is up.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import {
  completedPayload,
  inProgressPayload,
  queuedPayload,
  signedDelivery,
} from '../../stand-ins/payloads.js';
import { freePort, startServerProcess } from '../../stand-ins/server-process.js';

const WEBHOOK_SECRET = 'proof-secret';
const OWNERS = ['octo', 'hubot'] as const;
const TOKENS = { octo: 'github_pat_proof_octo', hubot: 'github_pat_proof_hubot' };
const SEED_SECONDS = 2;
const mapping = fileURLToPath(new URL('../../knative/monitoring/statsd-mapping.yaml', import.meta.url));
const dashboard = JSON.parse(
  readFileSync(new URL('../../knative/monitoring/grafana-dashboard.json', import.meta.url), 'utf8'),
) as { panels: { title: string; targets: { expr: string }[] }[] };

const children: ChildProcess[] = [];
let github: GitHubStandIn;
let kubernetes: KubernetesStandIn;
let kubeconfig: string;
let statsdAddress: string;
let prometheusUrl: string;

async function waitUntil(what: string, check: () => Promise<boolean>, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

type Sample = { metric: Record<string, string>; value: [number, string] };

async function query(promql: string, time?: number): Promise<Sample[]> {
  const params = new URLSearchParams({
    query: promql,
    ...(time === undefined ? {} : { time: String(time) }),
  });
  const response = await fetch(`${prometheusUrl}/api/v1/query?${params}`);
  const body = (await response.json()) as { status: string; error?: string; data: { result: Sample[] } };
  if (body.status !== 'success') throw new Error(`${promql}: ${body.error}`);
  return body.data.result;
}

const scalar = async (promql: string, time?: number) => {
  const value = (await query(promql, time))[0]?.value[1];
  return value === undefined ? undefined : Number(value);
};

function start(command: string, args: string[]): ChildProcess {
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr?.on('data', (chunk: Buffer) => {
    stderr = `${stderr}${chunk.toString()}`.slice(-4000);
  });
  child.once('exit', (code) => {
    if (code !== null && code !== 0) process.stderr.write(`${command} exited ${code}: ${stderr}\n`);
  });
  children.push(child);
  return child;
}

/**
 * GitHub's times of a proof job, around its runner's start (the record's started-at, ms): the runner takes it 1 to
 * 5 s later, after 2 to 12 s in queue at GitHub in all, and runs it for 60 to 109 s. Whole seconds, so that the
 * sums compare exactly.
 */
function timesOf(jobId: number, runnerStartedAt: number) {
  const startup = (jobId % 5) + 1;
  const queued = startup + (jobId % 7) + 1;
  const running = 60 + (jobId % 50);
  const started = runnerStartedAt + startup * 1000;
  const iso = (ms: number) => new Date(ms).toISOString();
  return {
    startup,
    queued,
    running,
    createdAt: iso(started - queued * 1000),
    startedAt: iso(started),
    completedAt: iso(started + running * 1000),
  };
}

/**
 * One short-lived instance: starts, handles its deliveries, stops (SIGTERM, as Knative scales it down). Each job
 * it starts a runner for is then taken by that runner and completed (its `in_progress` and `completed` deliveries).
 */
async function instance(
  plan: { owner: (typeof OWNERS)[number]; created: number; forged: number },
  jobIds: () => number,
) {
  const server = await startServerProcess({
    WEBHOOK_SECRET,
    GITHUB_TOKENS: `octo=${TOKENS.octo}\nhubot=${TOKENS.hubot}`,
    GITHUB_API_URL: github.url,
    KUBECONFIG: kubeconfig,
    RUNNER_MODE: 'standard',
    METRICS_STATSD_ADDRESS: statsdAddress,
    METRICS_SEED_SECONDS: String(SEED_SECONDS),
    RECONCILE_TOKEN: 'proof-reconcile',
  });
  const post = async (payload: unknown, secret = WEBHOOK_SECRET) => {
    const { headers, body } = await signedDelivery(payload, secret);
    return (await fetch(`${server.url}/webhook`, { method: 'POST', headers, body })).status;
  };
  const statuses: number[] = [];
  const followUps: number[] = [];
  const jobs: { jobId: number; startup: number; queued: number; running: number }[] = [];
  for (let index = 0; index < plan.created + plan.forged; index += 1) {
    const jobId = jobIds();
    const payload = queuedPayload({ jobId, owner: plan.owner, repo: 'proof' });
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const forged = index >= plan.created;
    const status = await post(payload, forged ? 'forged' : WEBHOOK_SECRET);
    statuses.push(status);
    if (forged || status !== 200) continue;
    const runner = { id: jobId, name: `runner-${jobId}` };
    const record = kubernetes.jobs.get(runner.name) as { metadata: { annotations?: Record<string, string> } };
    const runnerStartedAt = Number(record?.metadata.annotations?.['kube-actions-runner.dev/started-at']);
    expect(runnerStartedAt).toBeGreaterThan(0);
    const times = timesOf(jobId, runnerStartedAt);
    Object.assign(payload.workflow_job, { created_at: times.createdAt, started_at: times.createdAt });
    followUps.push(await post(inProgressPayload(payload, { ...runner, startedAt: times.startedAt })));
    const conclusion = jobId % 2 === 0 ? 'success' : 'failure';
    const ended = { runnerId: runner.id, runnerName: runner.name, conclusion, ...times } as const;
    followUps.push(await post(completedPayload(payload, ended)));
    jobs.push({ jobId, startup: times.startup, queued: times.queued, running: times.running });
  }
  expect(await server.stop()).toBe(0);
  return { statuses, followUps, jobs };
}

describe('metrics of 30 short-lived instances, through a real statsd_exporter and Prometheus', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kar-proof-'));
    const [tcpPort, webPort, prometheusPort] = [await freePort(), await freePort(), await freePort()];
    statsdAddress = `127.0.0.1:${tcpPort}`;
    start(inject('statsdExporter'), [
      `--statsd.mapping-config=${mapping}`,
      `--statsd.listen-tcp=${statsdAddress}`,
      '--statsd.listen-udp=',
      `--web.listen-address=127.0.0.1:${webPort}`,
    ]);
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      JSON.stringify({
        global: { scrape_interval: '1s', evaluation_interval: '1s' },
        scrape_configs: [
          {
            // The job name the PodMonitor of knative/monitoring/ gives (namespace/name).
            job_name: 'github-runners/kube-actions-runner-statsd',
            static_configs: [{ targets: [`127.0.0.1:${webPort}`] }],
          },
        ],
      }),
    );
    prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    start('prometheus', [
      `--config.file=${config}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${prometheusPort}`,
    ]);
    github = await startGitHubStandIn({ pats: { [TOKENS.octo]: 'octo', [TOKENS.hubot]: 'hubot' } });
    kubernetes = await startKubernetesStandIn();
    kubeconfig = kubernetes.writeKubeconfig(dir);
    await waitUntil('Prometheus scraping the statsd_exporter', async () => (await scalar('up')) === 1);
  });

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await github?.close();
    await kubernetes?.close();
  });

  it('increase() over the window equals what was sent, within 0', async () => {
    const startedAt = Date.now() / 1000;
    let nextJobId = 90_000;
    const jobIds = () => nextJobId++;
    const plans = Array.from({ length: 30 }, (_, index) => ({
      owner: OWNERS[index % 2] as (typeof OWNERS)[number],
      created: 1 + (index % 3),
      forged: index % 2,
    }));
    const ran: Awaited<ReturnType<typeof instance>>[] = [];
    // 18 one after another, then 12 in three waves of 4 at once.
    for (const plan of plans.slice(0, 18)) ran.push(await instance(plan, jobIds));
    for (let wave = 18; wave < 30; wave += 4) {
      ran.push(...(await Promise.all(plans.slice(wave, wave + 4).map((plan) => instance(plan, jobIds)))));
    }
    const statuses = ran.flatMap((one) => one.statuses);
    const followUps = ran.flatMap((one) => one.followUps);
    const jobs = ran.flatMap((one) => one.jobs);
    expect(followUps.every((status) => status === 200)).toBe(true);
    const truth = {
      webhook_requests_total: statuses.length + followUps.length,
      runner_jobs_created_total: statuses.filter((status) => status === 200).length,
      github_api_requests_total: github.calls.length,
      // GitHub's times of each job, pushed as counters (a histogram's series): exact under increase() too.
      runner_jobs_completed_total: jobs.length,
      runner_job_queued_seconds_count: jobs.length,
      runner_job_queued_seconds_sum: jobs.reduce((sum, job) => sum + job.queued, 0),
      runner_job_running_seconds_count: jobs.length,
      runner_job_running_seconds_sum: jobs.reduce((sum, job) => sum + job.running, 0),
      runner_startup_seconds_count: jobs.length,
      runner_startup_seconds_sum: jobs.reduce((sum, job) => sum + job.startup, 0),
    };
    expect(truth.runner_jobs_created_total).toBe(plans.reduce((sum, plan) => sum + plan.created, 0));
    expect(statuses.filter((status) => status === 401)).toHaveLength(plans.reduce((s, p) => s + p.forged, 0));

    // Every push is in once the receiver holds the totals; then two more scrapes.
    await waitUntil(
      `the pushed totals (${JSON.stringify(truth)})`,
      async () => (await scalar('sum(webhook_requests_total)')) === truth.webhook_requests_total,
    ).catch(async (error: Error) => {
      const seen = await query('webhook_requests_total');
      throw new Error(
        `${error.message}; the receiver holds ${JSON.stringify(seen.map((s) => [s.metric, s.value[1]]))}`,
      );
    });
    await new Promise((resolve) => setTimeout(resolve, 2500));
    // Evaluate at the last scrape, over a window that opens before the first instance started: every series
    // was born at 0 inside it (the adapter's seed), so Prometheus extrapolates neither end.
    const lastScrape = Math.max(
      ...(await query('timestamp(webhook_requests_total)')).map((s) => Number(s.value[1])),
    );
    const windowMs = Math.ceil((lastScrape - startedAt + 5) * 1000);
    const rows = [];
    for (const [metric, sent] of Object.entries(truth)) {
      const seen = await scalar(`sum(increase(${metric}[${windowMs}ms]))`, lastScrape);
      rows.push({ metric, sent, 'sum(increase())': seen, difference: (seen ?? Number.NaN) - sent });
    }
    console.table(rows);
    for (const row of rows) expect(row.difference, row.metric).toBe(0);

    // Each credential keeps its series, whichever instance pushed last.
    const credentials = (await query('github_api_rate_limit_remaining'))
      .map((s) => s.metric.credential)
      .sort();
    expect(credentials).toEqual(['pat:hubot', 'pat:octo']);
    // The pushed histogram and per-credential gauge exist too: one registration time per runner created, and
    // each credential's pause (0: GitHub paused neither).
    expect(await scalar('sum(runner_queued_to_registered_seconds_count)')).toBe(
      truth.runner_jobs_created_total,
    );
    const pauses = (await query('github_credential_pause_seconds')).map((s) => [
      s.metric.credential,
      s.value[1],
    ]);
    expect(pauses.sort()).toEqual([
      ['pat:hubot', '0'],
      ['pat:octo', '0'],
    ]);
  });

  it('runner_jobs_active falls to the truth after the runners finish while no instance is up, and the dashboard has data', async () => {
    const active = [...kubernetes.jobs.keys()];
    // Some count of the unfinished runners was pushed. Not necessarily all of them: an instance pushes the count it
    // read within METRICS_ACTIVE_CACHE_SECONDS (15 s), and of the last wave's 4 concurrent instances the one that
    // pushes last may have read it before the others made their Jobs.
    await waitUntil('a count pushed', async () => ((await scalar('runner_jobs_active')) ?? 0) > 0);
    expect(await scalar('runner_jobs_active')).toBeLessThanOrEqual(active.length);
    for (const name of active) kubernetes.completeJob(name);
    // Reconcile (every 5 minutes) wakes an instance; it pushes the cluster's count soon after it starts.
    const woken = await startServerProcess({
      WEBHOOK_SECRET,
      GITHUB_TOKENS: `octo=${TOKENS.octo}\nhubot=${TOKENS.hubot}`,
      GITHUB_API_URL: github.url,
      KUBECONFIG: kubeconfig,
      RUNNER_MODE: 'standard',
      METRICS_STATSD_ADDRESS: statsdAddress,
      RECONCILE_TOKEN: 'proof-reconcile',
    });
    const reconciled = await fetch(`${woken.url}/reconcile`, {
      method: 'POST',
      headers: { authorization: 'Bearer proof-reconcile' },
    });
    expect(reconciled.status).toBe(200);
    await waitUntil(
      'runner_jobs_active to fall to 0',
      async () => (await scalar('runner_jobs_active')) === 0,
    );
    // The pass settled the records (none waits now): its counts by reason were pushed.
    await waitUntil(
      'the records waiting, by reason',
      async () => (await query('runner_jobs_waiting')).length === 5,
    );
    // Every dashboard query returns data from this Prometheus, once a pass has run as the schedule runs it.
    for (const panel of dashboard.panels) {
      for (const { expr } of panel.targets) {
        expect((await query(expr)).length, `${panel.title}: ${expr}`).toBeGreaterThan(0);
      }
    }
    expect(await woken.stop()).toBe(0);
  });
});
