/**
 * Records waiting, by reason, and the oldest wait (issue #30): what `runner_jobs_waiting{reason}` and
 * `runner_jobs_oldest_wait_seconds{reason}` say after a settling, through the real route and the stand-ins.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

let h: AppHarness;
let clock = 0;
afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

async function post(jobId: number) {
  const payload = queuedPayload({ jobId });
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  return (await h.app.request('/webhook', { method: 'POST', headers, body })).status;
}

async function waiting(): Promise<Record<string, [number, number]>> {
  const text = await (await h.app.request('/metrics')).text();
  const seen: Record<string, [number, number]> = {};
  for (const [, name, reason, value] of text.matchAll(
    /^runner_jobs_(waiting|oldest_wait_seconds)\{reason="(\w+)"\} (\S+)$/gm,
  )) {
    const pair = seen[reason as string] ?? [0, 0];
    pair[name === 'waiting' ? 0 : 1] = Number(value);
    seen[reason as string] = pair;
  }
  return seen;
}

async function reconcile() {
  const answer = await h.app.request('/reconcile', {
    method: 'POST',
    headers: { authorization: 'Bearer t' },
  });
  expect(answer.status).toBe(200);
}

describe('records waiting, by reason', () => {
  it('counts jobs behind a cap and a runner not up yet, with how long the oldest has waited', async () => {
    const before = Date.now();
    clock = before;
    h = await startAppHarness({ MAX_RUNNERS: '1', RECONCILE_TOKEN: 't' }, { now: () => clock });
    expect([await post(11), await post(12), await post(13)]).toEqual([200, 202, 202]);
    const after = Date.now();
    clock = after + 90_000;
    await reconcile();
    const seen = await waiting();
    expect(seen.cap?.[0]).toBe(2);
    // From the oldest waiting record's creation (made between before and after, its time cut to the second by
    // the API server) to the pass, 90 s after.
    expect(seen.cap?.[1]).toBeGreaterThanOrEqual(90);
    expect(seen.cap?.[1]).toBeLessThanOrEqual(90 + (after - before) / 1000 + 1);
    expect(seen.starting?.[0]).toBe(1);
    expect(seen.github).toEqual([0, 0]);

    // Once the runner is up, and its job done, the next waiting one starts: the counts follow.
    h.kubernetes.completeJob('runner-11');
    await reconcile();
    expect((await waiting()).cap?.[0]).toBe(1);
  });
});
