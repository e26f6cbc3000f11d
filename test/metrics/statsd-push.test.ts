/**
 * The push adapter against a loopback statsd_exporter stand-in (same line protocol and TCP contract): exact sums
 * across instances, a zero before every new series, nothing sent twice, and a receiver that is down or stuck
 * costs no delivery and is counted.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger } from '../../shared/log/create-logger.js';
import { createMetrics, type Metrics, type MetricsOptions } from '../../shared/metrics/create-metrics.js';
import { createStatsdPush, type MetricsPush } from '../../shared/metrics/statsd-push.js';
import { freePort } from '../../stand-ins/server-process.js';
import { type StatsdStandIn, startStatsdStandIn } from '../../stand-ins/statsd-stand-in.js';

const log = createLogger('silent');
const open: { close(): Promise<void> }[] = [];
const pushes: MetricsPush[] = [];

afterEach(async () => {
  for (const push of pushes.splice(0)) await push.flush(0);
  for (const item of open.splice(0)) await item.close();
});

async function receiver(port?: number): Promise<StatsdStandIn> {
  const statsd = await startStatsdStandIn(port);
  open.push(statsd);
  return statsd;
}

function instance(
  address: string,
  options: { seedMs?: number; timeoutMs?: number } & MetricsOptions = {},
): { metrics: Metrics; push: MetricsPush } {
  const { seedMs, timeoutMs, ...metricsOptions } = options;
  const metrics = createMetrics(metricsOptions);
  const push = createStatsdPush({
    address,
    metrics,
    log,
    seedMs: seedMs ?? 0,
    debounceMs: 10,
    timeoutMs: timeoutMs ?? 1000,
  });
  pushes.push(push);
  return { metrics, push };
}

const failures = async (metrics: Metrics, outcome: string) =>
  Number(
    new RegExp(`metrics_push_failures_total\\{outcome="${outcome}"\\} (\\d+)`).exec(
      await metrics.registry.metrics(),
    )?.[1] ?? 0,
  );

describe('pushing to statsd_exporter', () => {
  it('sends 0 for a new series first and holds its increments until the zero has been scraped', async () => {
    const statsd = await receiver();
    const { metrics, push } = instance(statsd.address, { seedMs: 400 });
    const labels = { status: '200', owner: 'octo', repo: 'hello' };
    metrics.webhookRequests.inc(labels);
    metrics.webhookRequests.inc(labels);
    push.schedule();
    await expect.poll(() => statsd.counter('webhook_requests_total', labels)).toBe(0);
    const seededAt = Date.now();
    await expect.poll(() => statsd.counter('webhook_requests_total', labels), { timeout: 3000 }).toBe(2);
    expect(Date.now() - seededAt).toBeGreaterThanOrEqual(300);
    expect(statsd.lines.filter((line) => line.startsWith('webhook_requests_total:'))).toEqual([
      'webhook_requests_total:0|c|#status:200,owner:octo,repo:hello',
      'webhook_requests_total:2|c|#status:200,owner:octo,repo:hello',
    ]);
  });

  it('adds up concurrent instances exactly and never sends an increment twice', async () => {
    const statsd = await receiver();
    const a = instance(statsd.address);
    const b = instance(statsd.address);
    for (let round = 0; round < 5; round += 1) {
      a.metrics.runnerJobsCreated.inc({ owner: 'octo', repo: 'one' });
      b.metrics.runnerJobsCreated.inc({ owner: 'octo', repo: 'one' }, 2);
      a.push.schedule();
      b.push.schedule();
      await new Promise((resolve) => setTimeout(resolve, 15));
    }
    await a.push.flush();
    await b.push.flush();
    expect(statsd.counter('runner_jobs_created_total', { owner: 'octo', repo: 'one' })).toBe(15);
    await a.push.flush();
    await b.push.flush();
    expect(statsd.counter('runner_jobs_created_total', { owner: 'octo', repo: 'one' })).toBe(15);
  });

  it('pushes runner_outdated_total by profile, like every counter', async () => {
    const statsd = await receiver();
    const { metrics, push } = instance(statsd.address);
    metrics.runnerOutdated.inc({ profile: 'gpu' });
    metrics.runnerOutdated.inc({ profile: 'gpu' });
    await push.flush();
    expect(statsd.counter('runner_outdated_total', { profile: 'gpu' })).toBe(2);
  });

  it('a receiver that is down costs no delivery: schedule() returns at once, the push is retried later', async () => {
    const port = await freePort();
    const { metrics, push } = instance(`127.0.0.1:${port}`);
    metrics.githubApiRequests.inc({
      endpoint: 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
      status: '200',
    });
    const started = performance.now();
    push.schedule();
    expect(performance.now() - started).toBeLessThan(5);
    await expect.poll(() => failures(metrics, 'retried')).toBeGreaterThan(0);
    const statsd = await receiver(port);
    await expect
      .poll(() =>
        statsd.counter('github_api_requests_total', {
          endpoint: 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
          status: '200',
        }),
      )
      .toBe(1);
    // The failures themselves arrive once the receiver is back.
    await expect
      .poll(() => statsd.counter('metrics_push_failures_total', { outcome: 'retried' }))
      .toBeGreaterThan(0);
  });

  it('a stuck receiver: the push gives up at its timeout, counts a dropped push and never resends it', async () => {
    const statsd = await receiver();
    statsd.setMode('hang');
    const { metrics, push } = instance(statsd.address, { timeoutMs: 200 });
    metrics.runnerJobsCreated.inc({ owner: 'octo', repo: 'one' }, 3);
    push.schedule();
    await expect.poll(() => failures(metrics, 'dropped')).toBe(1);
    statsd.setMode('normal');
    metrics.runnerJobsCreated.inc({ owner: 'octo', repo: 'one' }, 2);
    push.schedule();
    await expect.poll(() => statsd.counter('metrics_push_failures_total', { outcome: 'dropped' })).toBe(1);
    expect(statsd.counter('runner_jobs_created_total', { owner: 'octo', repo: 'one' })).toBe(2);
  });

  it('gauges: each credential keeps its own series whichever instance pushed last', async () => {
    const statsd = await receiver();
    const a = instance(statsd.address);
    const b = instance(statsd.address);
    const forged = instance(statsd.address);
    a.metrics.githubRateLimitRemaining.set({ credential: 'pat:octo' }, 4000);
    a.push.schedule();
    await expect
      .poll(() => statsd.gauge('github_api_rate_limit_remaining', { credential: 'pat:octo' }))
      .toBe(4000);
    b.metrics.githubRateLimitRemaining.set({ credential: 'pat:hubot' }, 10);
    b.push.schedule();
    // An instance that only met a forged delivery sets no gauge, so it pushes none.
    forged.metrics.webhookRequests.inc({ status: '401', owner: '', repo: '' });
    forged.push.schedule();
    await expect
      .poll(() => statsd.gauge('github_api_rate_limit_remaining', { credential: 'pat:hubot' }))
      .toBe(10);
    await forged.push.flush();
    expect(statsd.gauge('github_api_rate_limit_remaining', { credential: 'pat:octo' })).toBe(4000);
    expect(statsd.lines.filter((line) => line.startsWith('github_api_rate_limit_remaining'))).toHaveLength(2);
  });

  it('pushes runner_jobs_active from the cluster, one LIST per cache window however often it pushes', async () => {
    const statsd = await receiver();
    let lists = 0;
    const active = 3;
    const { metrics, push } = instance(statsd.address, {
      countActiveRunners: async () => {
        lists += 1;
        return active;
      },
    });
    for (let index = 0; index < 5; index += 1) {
      metrics.webhookRequests.inc({ status: '200', owner: '', repo: '' });
      await push.flush();
    }
    expect(statsd.gauge('runner_jobs_active')).toBe(3);
    expect(lists).toBe(1);
  });

  it('at shutdown, waits within its budget for young series to be scraped at 0, then sends their increments', async () => {
    const statsd = await receiver();
    const { metrics, push } = instance(statsd.address, { seedMs: 300 });
    metrics.runnerJobsCreated.inc({ owner: 'octo', repo: 'one' });
    const started = Date.now();
    await push.flush(2000);
    expect(Date.now() - started).toBeGreaterThanOrEqual(290);
    expect(statsd.lines.filter((line) => line.startsWith('runner_jobs_created_total'))).toEqual([
      'runner_jobs_created_total:0|c|#owner:octo,repo:one',
      'runner_jobs_created_total:1|c|#owner:octo,repo:one',
    ]);
  });

  it('latency observations reach the receiver one by one', async () => {
    const statsd = await receiver();
    const { metrics, push } = instance(statsd.address);
    for (let index = 0; index < 3; index += 1) metrics.webhookLatency.startTimer()();
    await push.flush();
    expect(statsd.observations('webhook_latency_seconds')).toHaveLength(3);
  });

  it('queued-to-registered times reach the receiver one by one, as the histogram of the shipped mapping', async () => {
    const statsd = await receiver();
    const { metrics, push } = instance(statsd.address);
    metrics.queuedToRegistered.observe(0.5);
    metrics.queuedToRegistered.observe(140);
    await push.flush();
    expect(statsd.observations('runner_queued_to_registered_seconds')).toEqual([0.5, 140]);
    // Sent once: a later push carries only what was observed since.
    metrics.queuedToRegistered.observe(3);
    await push.flush();
    expect(statsd.observations('runner_queued_to_registered_seconds')).toEqual([0.5, 140, 3]);
  });

  it("pushes each credential's pause as the seconds left at every push, 0 once it is over", async () => {
    const statsd = await receiver();
    let clock = 1_000_000;
    const { push } = instance(statsd.address, {
      now: () => clock,
      credentialPauses: () => [
        { credential: 'pat:octo', until: 1_030_000 },
        { credential: 'pat:hubot', until: 0 },
      ],
    });
    await push.flush();
    expect(statsd.gauge('github_credential_pause_seconds', { credential: 'pat:octo' })).toBe(30);
    expect(statsd.gauge('github_credential_pause_seconds', { credential: 'pat:hubot' })).toBe(0);
    // Nothing was set in between: the value falls with time all the same, and reaches 0.
    clock += 12_000;
    await push.flush();
    expect(statsd.gauge('github_credential_pause_seconds', { credential: 'pat:octo' })).toBe(18);
    clock += 60_000;
    await push.flush();
    expect(statsd.gauge('github_credential_pause_seconds', { credential: 'pat:octo' })).toBe(0);
  });
});
