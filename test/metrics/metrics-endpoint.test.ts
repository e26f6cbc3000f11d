/**
 * `GET /metrics` is neither costly nor open: one LIST per cache window however often it is scraped, a bearer token
 * when configured, and labels bounded whatever owners send signed deliveries.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { createMetrics } from '../../shared/metrics/create-metrics.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from '../support/app-harness.js';

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const lists = (harness: AppHarness) => harness.kubernetes.requestCounts.get('GET jobs') ?? 0;

describe('GET /metrics', () => {
  it('200 scrapes at once cost one LIST of Jobs, not 200', async () => {
    h = await startAppHarness();
    const harness = h;
    const answers = await Promise.all(
      Array.from({ length: 200 }, async () => (await harness.app.request('/metrics')).text()),
    );
    expect(answers.every((text) => text.includes('runner_jobs_active 0'))).toBe(true);
    expect(lists(harness)).toBe(1);
    for (let index = 0; index < 20; index += 1) await harness.app.request('/metrics');
    expect(lists(harness)).toBe(1);
  });

  it('the active count is read again once the cache window has passed', async () => {
    let now = 0;
    let reads = 0;
    const metrics = createMetrics({
      countActiveRunners: async () => {
        reads += 1;
        return reads;
      },
      activeCacheMs: 15_000,
      now: () => now,
    });
    expect(await metrics.registry.metrics()).toContain('runner_jobs_active 1');
    now = 14_999;
    expect(await metrics.registry.metrics()).toContain('runner_jobs_active 1');
    now = 15_000;
    expect(await metrics.registry.metrics()).toContain('runner_jobs_active 2');
    expect(reads).toBe(2);
  });

  it('with METRICS_TOKEN, answers 401 without the bearer token, before any LIST', async () => {
    h = await startAppHarness({ METRICS_TOKEN: 'scrape-me' });
    for (const authorization of [undefined, 'Bearer wrong', 'Basic c2NyYXBlLW1l', 'Bearer scrape-me-too']) {
      const answer = await h.app.request('/metrics', {
        headers: authorization === undefined ? {} : { authorization },
      });
      expect(answer.status, authorization).toBe(401);
      expect(answer.headers.get('www-authenticate')).toBe('Bearer realm="metrics"');
      expect(await answer.text()).not.toContain('runner_jobs_active');
    }
    expect(lists(h)).toBe(0);
    const allowed = await h.app.request('/metrics', { headers: { authorization: 'Bearer scrape-me' } });
    expect(allowed.status).toBe(200);
    expect(await allowed.text()).toContain('# TYPE runner_jobs_active gauge');
  });

  it('600 signed deliveries from distinct owners: the first owners are named, the rest counted as other', async () => {
    // Owners outside ALLOWED_OWNERS are refused after the signature check: cheap, and still labelled.
    h = await startAppHarness({ ALLOWED_OWNERS: 'nobody', METRICS_MAX_OWNERS: '20' });
    const before = (await (await h.app.request('/metrics')).text()).length;
    for (let index = 0; index < 600; index += 1) {
      const { headers, body } = await signedDelivery(
        queuedPayload({ jobId: index + 1, owner: `owner-${index}` }),
        WEBHOOK_SECRET,
      );
      expect((await h.app.request('/webhook', { method: 'POST', headers, body })).status).toBe(200);
    }
    const text = await (await h.app.request('/metrics')).text();
    expect(text).toContain('owner="owner-19"');
    expect(text).not.toContain('owner="owner-20"');
    expect(text).toMatch(/webhook_requests_total\{status="200",owner="other",repo="other"\} 580/);
    expect(text.length - before).toBeLessThan(5 * 1024);
  });

  it('repositories beyond their limit are counted as other under their owner', () => {
    const metrics = createMetrics({ maxRepositories: 2 });
    for (const repo of ['a', 'b', 'c', 'd']) metrics.runnerJobsCreated.inc({ owner: 'octo', repo });
    return metrics.registry.metrics().then((text) => {
      expect(text).toContain('runner_jobs_created_total{owner="octo",repo="a"} 1');
      expect(text).toContain('runner_jobs_created_total{owner="octo",repo="b"} 1');
      expect(text).toContain('runner_jobs_created_total{owner="octo",repo="other"} 2');
    });
  });
});
