/**
 * Runners taken by another job (issue "No job left behind", item 2): a JIT runner takes any queued job its labels
 * cover, so the gpu job's runner may run a small job, and the small job's runner cannot take the gpu job. Every job
 * the function accepted and GitHub still has queued must keep a runner able to take it; surplus idle runners go.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { inProgressPayload } from '../stand-ins/payloads.js';
import {
  type AppHarness,
  addQueuedJob,
  deliverSigned,
  serveAsHook,
  startAppHarness,
} from './support/app-harness.js';

const TOKEN = 'reconcile-token-0123';
const SMALL = ['self-hosted', 'k8s'];
const GPU = ['self-hosted', 'k8s', 'gpu'];
let h: AppHarness;
let clock = Date.now();

afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

async function harness() {
  clock = Date.now();
  h = await startAppHarness({ RECONCILE_TOKEN: TOKEN }, { now: () => clock });
}

const queued = (jobId: number, labels: string[]) => addQueuedJob(h, { jobId, labels });
const deliver = async (payload: unknown) => (await deliverSigned(h, payload)).body;

async function reconcile() {
  const response = await h.app.request('/reconcile', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return (await response.json()) as Record<string, unknown>;
}

/** GitHub runs the job on that runner; the `in_progress` delivery it sends. */
const runs = (payload: ReturnType<typeof queued>, runnerName: string) =>
  inProgressPayload(payload, h.github.giveJob(payload.workflow_job.id, runnerName));

const live = () =>
  h.github.runners
    .filter((runner) => !runner.deleted)
    .map((runner) => `${runner.name}${runner.busy ? ' (busy)' : ''}`)
    .sort();

describe('a runner taken by another job', () => {
  for (const order of ['small first', 'gpu first'] as const) {
    it(`gets its job a replacement at the in_progress delivery, and the surplus runner goes (${order})`, async () => {
      await harness();
      const jobs =
        order === 'small first'
          ? [queued(901, SMALL), queued(902, GPU)]
          : [queued(902, GPU), queued(901, SMALL)];
      for (const payload of jobs) expect(await deliver(payload)).toMatchObject({ outcome: 'created' });
      const [small, gpu] = order === 'small first' ? jobs : [jobs[1], jobs[0]];
      if (!small || !gpu) throw new Error('jobs');
      // The gpu job's runner came up first and took the small job.
      expect(await deliver(runs(small, 'runner-902'))).toEqual({
        outcome: 'replaced',
        job: 'runner-902-2',
        reason: 'another job took runner-902',
      });
      const replacement = h.github.runners.find((runner) => runner.name === 'runner-902-2');
      expect(replacement?.labels).toEqual(GPU);
      expect(h.kubernetes.jobs.get('runner-902-2')?.spec?.suspend).toBe(false);
      // The gpu job runs on its replacement; the small job's own runner is left with nothing to take.
      expect(await deliver(runs(gpu, 'runner-902-2'))).toMatchObject({ outcome: 'ignored' });
      expect(await reconcile()).toMatchObject({ surplus: 1, replaced: 0 });
      expect(live()).toEqual(['runner-902 (busy)', 'runner-902-2 (busy)']);
      expect(h.kubernetes.jobs.has('runner-901')).toBe(false);
    });
  }

  it('is repaired by reconcile when the in_progress delivery never came', async () => {
    await harness();
    const small = queued(911, SMALL);
    const gpu = queued(912, GPU);
    for (const payload of [small, gpu]) expect(await deliver(payload)).toMatchObject({ outcome: 'created' });
    runs(small, 'runner-912'); // no delivery
    // The small job's own runner, idle and unable to take the gpu job, goes; the gpu job gets a replacement.
    expect(await reconcile()).toMatchObject({ replaced: 1, surplus: 1 });
    expect(h.github.runners.find((runner) => runner.name === 'runner-912-2')?.labels).toEqual(GPU);
    runs(gpu, 'runner-912-2');
    expect(await reconcile()).toMatchObject({ surplus: 0, replaced: 0 });
    expect(live()).toEqual(['runner-912 (busy)', 'runner-912-2 (busy)']);
  });

  it('answers 5xx, never replaced, when the replacement record was not made (a 409 with nothing behind it)', async () => {
    await harness();
    const small = queued(961, SMALL);
    const gpu = queued(962, GPU);
    for (const payload of [small, gpu]) expect(await deliver(payload)).toMatchObject({ outcome: 'created' });
    const taken = runs(small, 'runner-962');
    h.kubernetes.failNext('POST', 'jobs', 409);
    expect((await deliverSigned(h, taken)).status).toBeGreaterThanOrEqual(500);
    expect(h.kubernetes.jobs.has('runner-962-2')).toBe(false);
    // GitHub delivers it again: the replacement is made.
    expect(await deliver(taken)).toMatchObject({ outcome: 'replaced', job: 'runner-962-2' });
    expect(h.kubernetes.jobs.get('runner-962-2')?.spec?.suspend).toBe(false);
  });

  it('needs no replacement when the freed runner can take the job (equal labels)', async () => {
    await harness();
    const first = queued(921, SMALL);
    const second = queued(922, SMALL);
    for (const payload of [first, second])
      expect(await deliver(payload)).toMatchObject({ outcome: 'created' });
    expect(await deliver(runs(first, 'runner-922'))).toEqual({
      outcome: 'ignored',
      reason: 'a freed runner can take it',
    });
    expect(h.kubernetes.jobs.size).toBe(2);
  });

  it('ignores an in_progress delivery whose runner GitHub does not confirm', async () => {
    await harness();
    const small = queued(931, SMALL);
    const gpu = queued(932, GPU);
    for (const payload of [small, gpu]) expect(await deliver(payload)).toMatchObject({ outcome: 'created' });
    const forged = runs(small, 'runner-932');
    h.github.setJobFields(931, { runner_name: 'runner-931' });
    expect(await deliver(forged)).toEqual({
      outcome: 'ignored',
      reason: 'GitHub names another runner for this job',
    });
    expect(h.kubernetes.jobs.has('runner-932-2')).toBe(false);
  });

  it('removes the replacement too when the job is cancelled', async () => {
    await harness();
    const small = queued(941, SMALL);
    const gpu = queued(942, GPU);
    for (const payload of [small, gpu]) expect(await deliver(payload)).toMatchObject({ outcome: 'created' });
    expect(await deliver(runs(small, 'runner-942'))).toMatchObject({ outcome: 'replaced' });
    h.github.setJobStatus(942, 'completed');
    const cancelled = {
      ...gpu,
      action: 'completed',
      workflow_job: { ...gpu.workflow_job, status: 'completed', conclusion: 'cancelled' },
    };
    await deliver(cancelled);
    expect(h.kubernetes.jobs.has('runner-942-2')).toBe(false);
    expect(live()).not.toContain('runner-942-2');
  });

  it('gets its replacement when the failed in_progress delivery is redelivered', async () => {
    clock = Date.now();
    h = await startAppHarness(
      { RECONCILE_TOKEN: TOKEN, RECONCILE_HOOKS: 'lineville/elastic-machines-testing:292430182' },
      { now: () => clock },
    );
    const stopServing = await serveAsHook(h, { hookId: 292430182 });
    try {
      const small = queued(951, SMALL);
      const gpu = queued(952, GPU);
      for (const payload of [small, gpu]) expect(await h.github.deliver('workflow_job', payload)).toBe(200);
      // The gpu job's runner takes the small job and finishes it; the in_progress delivery fails.
      const taken = runs(small, 'runner-952');
      h.kubernetes.failNext('GET', 'jobs', 403);
      expect(await h.github.deliver('workflow_job', taken)).toBe(502);
      h.kubernetes.completeJob('runner-952'); // it ran the small job: reconcile alone would not look at it
      expect(await reconcile()).toMatchObject({ redelivered: 1 });
      await h.github.settled();
      expect(h.github.deliveries.at(-1)).toMatchObject({ redelivery: true, statusCode: 200 });
      expect(h.kubernetes.jobs.get('runner-952-2')?.spec?.suspend).toBe(false);
    } finally {
      stopServing();
    }
  });
});
