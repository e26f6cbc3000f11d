import { afterEach, describe, expect, it } from 'vitest';
import { completedPayload, queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

let h: AppHarness;
afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

async function post(payload: unknown) {
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  const response = await h.app.request('/webhook', { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as { outcome: string; reason?: string } };
}

function queued(jobId: number, labels = ['self-hosted', 'k8s']) {
  const payload = queuedPayload({ jobId, labels });
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  return payload;
}

/** Runner Jobs started and not finished: what the caps bound. */
const running = () =>
  [...h.kubernetes.jobs.values()].filter(
    (job) => job.spec?.suspend === false && !(job.status as { succeeded?: number } | undefined)?.succeeded,
  );

/** The runner of a Job finishes its job: the pod exits (Job complete) and GitHub sends `completed`. */
async function finish(name: string) {
  h.kubernetes.completeJob(name);
  const jobId = Number(name.replace('runner-', ''));
  const payload = queuedPayload({ jobId });
  return post(completedPayload(payload, { runnerId: 7, runnerName: name }));
}

describe('MAX_RUNNERS', () => {
  it('never runs more than the cap, drops no job, and starts waiting jobs as runners finish', async () => {
    h = await startAppHarness({ MAX_RUNNERS: '3' });
    const answers = await Promise.all(Array.from({ length: 10 }, (_, index) => post(queued(100 + index))));
    const outcomes = answers.map((answer) => `${answer.status} ${answer.body.outcome}`).sort();
    expect(outcomes).toEqual([...Array(3).fill('200 created'), ...Array(7).fill('202 waiting')]);
    expect(answers.find((a) => a.body.outcome === 'waiting')?.body.reason).toBe(
      'waiting for capacity: MAX_RUNNERS=3 runners are running',
    );
    expect(running()).toHaveLength(3);
    // The credential's shared GitHub budget (kar-budget-<hash>) is a Lease too; these count the others.
    expect([...h.kubernetes.leases.keys()].filter((name) => !name.startsWith('kar-budget-')).length).toBe(3);
    expect(h.github.runners).toHaveLength(3);

    let most = running().length;
    for (let step = 0; step < 20 && running().length > 0; step += 1) {
      const [first] = running();
      expect((await finish(first?.metadata.name ?? '')).status).toBe(200);
      most = Math.max(most, running().length);
    }
    expect(most).toBe(3);
    const started = [...h.kubernetes.jobs.values()].filter((job) => job.spec?.suspend === false);
    expect(started).toHaveLength(10);
    expect(h.github.runners).toHaveLength(10);
  });

  it('lets reconcile start a waiting job when the completed delivery was lost', async () => {
    h = await startAppHarness({ MAX_RUNNERS: '1', RECONCILE_TOKEN: 't' });
    await post(queued(200));
    expect((await post(queued(201))).body.outcome).toBe('waiting');
    h.kubernetes.completeJob('runner-200');
    const report = await (
      await h.app.request('/reconcile', { method: 'POST', headers: { authorization: 'Bearer t' } })
    ).json();
    expect(report).toMatchObject({ slotsFreed: 1, started: 1 });
    expect(h.kubernetes.jobs.get('runner-201')?.spec?.suspend).toBe(false);
  });
});

describe('freeing slots in a reconcile pass', () => {
  it('counts a slot it could not free as a failure, and still does the rest of the pass', async () => {
    h = await startAppHarness({ MAX_RUNNERS: '1', RECONCILE_TOKEN: 't' });
    await post(queued(300));
    expect((await post(queued(301))).body.outcome).toBe('waiting');
    h.kubernetes.completeJob('runner-300');
    h.kubernetes.failNext('DELETE', 'leases', 403);
    const first = await h.app.request('/reconcile', {
      method: 'POST',
      headers: { authorization: 'Bearer t' },
    });
    expect(first.status).toBe(200);
    expect(await first.json()).toMatchObject({ slotsFreed: 0, failures: 1 });
    // The next pass frees it, and the waiting job starts.
    const second = await h.app.request('/reconcile', {
      method: 'POST',
      headers: { authorization: 'Bearer t' },
    });
    expect(await second.json()).toMatchObject({ slotsFreed: 1, started: 1 });
  });
});

describe('a profile cap', () => {
  it('holds back that profile only', async () => {
    const profiles =
      'profiles:\n  - name: gpu\n    match: gpu\n    mode: standard\n    maxRunners: 1\n  - name: default\n    mode: standard\n';
    h = await startAppHarness({ RUNNER_PROFILES: profiles });
    const gpu = await Promise.all(
      [301, 302, 303].map((jobId) => post(queued(jobId, ['self-hosted', 'gpu']))),
    );
    expect(gpu.map((answer) => answer.body.outcome).sort()).toEqual(['created', 'waiting', 'waiting']);
    expect(gpu.find((a) => a.body.outcome === 'waiting')?.body.reason).toBe(
      'waiting for capacity: profile gpu has its 1 runners running',
    );
    expect((await post(queued(304))).body.outcome).toBe('created');
  });
});

describe('a reconcile pass behind a full cap', () => {
  it('spends nothing on records that would only find the cap full, and starts them once it frees', async () => {
    h = await startAppHarness({ MAX_RUNNERS: '1', RECONCILE_TOKEN: 'reconcile-token-0123' });
    expect((await post(queued(301))).body.outcome).toBe('created');
    for (const jobId of [302, 303, 304]) expect((await post(queued(jobId))).body.outcome).toBe('waiting');
    const reconcile = async () =>
      (await (
        await h.app.request('/reconcile', {
          method: 'POST',
          headers: { authorization: 'Bearer reconcile-token-0123' },
        })
      ).json()) as Record<string, unknown>;
    // Reads of the waiting jobs (the idle-runner sweep reads the started one's, as it always does).
    const reads = () =>
      h.github.calls.filter((call) => call.route === 'job' && /\/jobs\/30[234]$/.test(call.path)).length;
    const before = reads();
    // No claim, no read of GitHub, no slot taken and given back: each is counted waiting, at no cost.
    expect(await reconcile()).toMatchObject({ waiting: 3, started: 0 });
    expect(reads()).toBe(before);
    // The runner finishes (its completed delivery lost): the pass frees its slot and starts the oldest waiting.
    h.kubernetes.completeJob('runner-301');
    expect(await reconcile()).toMatchObject({ slotsFreed: 1, started: 1, waiting: 2 });
    expect(running().map((job) => job.metadata.name)).toEqual(['runner-302']);
  });
});
