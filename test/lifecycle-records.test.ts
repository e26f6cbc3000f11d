/**
 * The record lifecycle where it met a cancellation, a capacity wait, or another tenant (issues "No job left
 * behind" and "Hostile traffic and hostile tenants"). Each test failed before the fix it names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { completedPayload, queuedPayload } from '../stand-ins/payloads.js';
import { type AppHarness, addQueuedJob, deliverSigned, startAppHarness } from './support/app-harness.js';

const TOKEN = 'reconcile-token-0123';
let h: AppHarness;
let clock = Date.now();

async function harness(env: Record<string, string> = {}) {
  clock = Date.now();
  h = await startAppHarness({ RECONCILE_TOKEN: TOKEN, ...env }, { now: () => clock });
  return h;
}

afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

const queued = (overrides: Parameters<typeof addQueuedJob>[1] = {}) => addQueuedJob(h, overrides);

const deliver = (payload: unknown) => deliverSigned(h, payload);

async function reconcile() {
  const response = await h.app.request('/reconcile', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return (await response.json()) as Record<string, unknown>;
}

const liveRegistrations = () => h.github.runners.filter((runner) => !runner.deleted);

describe('a runner that waited for capacity', () => {
  it('is timed out from when it started, not from when it was recorded', async () => {
    await harness({ MAX_RUNNERS: '1', RUNNER_START_TIMEOUT_SECONDS: '60' });
    const first = queued({ jobId: 1 });
    const second = queued({ jobId: 2 });
    expect((await deliver(first)).body).toMatchObject({ outcome: 'created' });
    expect((await deliver(second)).body).toMatchObject({ outcome: 'waiting' });
    h.kubernetes.setReady('runner-1', 1);
    // The second job waits well past the start timeout for the only slot.
    clock += 10 * 60_000;
    h.kubernetes.completeJob('runner-1');
    expect(await reconcile()).toMatchObject({ started: 1, timedOut: 0 });
    // Its pod has had no time to come up: the next pass must leave it.
    expect(await reconcile()).toMatchObject({ timedOut: 0 });
    expect(h.kubernetes.jobs.get('runner-2')?.spec?.suspend).toBe(false);
    expect(liveRegistrations().map((runner) => runner.name)).toContain('runner-2');
    // Past the timeout counted from its start, it is removed.
    clock += 61_000;
    expect(await reconcile()).toMatchObject({ timedOut: 1 });
  });
});

describe('a cancellation', () => {
  it('from another repository never removes this repository’s runner', async () => {
    await harness();
    const victim = queued({ jobId: 77, owner: 'octo-org', repo: 'app' });
    expect((await deliver(victim)).body).toMatchObject({ outcome: 'created' });
    // Another tenant forges a cancellation naming the victim's job id from its own repository.
    const forged = queuedPayload({ jobId: 77, owner: 'mallory', repo: 'evil' });
    h.github.addJob(forged.repository.full_name, forged.workflow_job, 'completed');
    expect((await deliver(completedPayload(forged))).body).toMatchObject({ outcome: 'ignored' });
    expect(h.kubernetes.jobs.has('runner-77')).toBe(true);
    expect(liveRegistrations()).toHaveLength(1);
  });

  it('is confirmed with GitHub: a completed delivery for a job GitHub says is queued removes nothing', async () => {
    await harness();
    const payload = queued({ jobId: 78 });
    expect((await deliver(payload)).body).toMatchObject({ outcome: 'created' });
    expect((await deliver(completedPayload(payload))).body).toEqual({
      outcome: 'ignored',
      reason: 'GitHub says the job is queued',
    });
    expect(h.kubernetes.jobs.has('runner-78')).toBe(true);
    expect(liveRegistrations()).toHaveLength(1);
  });

  it('between GitHub’s answer and the record’s creation leaves no runner', async () => {
    await harness();
    const payload = queued({ jobId: 79 });
    // GitHub answers `queued`; the job is cancelled right after, and that cancellation finds no record yet.
    let cancellation: { body: Record<string, unknown> } | undefined;
    h.github.holdAnswer('job', async () => {
      h.github.setJobStatus(79, 'completed');
      cancellation = await deliver(completedPayload(payload));
    });
    const answer = await deliver(payload);
    expect(cancellation?.body).toMatchObject({ outcome: 'ignored' });
    expect(answer.body).toMatchObject({ outcome: 'ignored', reason: 'job is no longer queued (completed)' });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(liveRegistrations()).toHaveLength(0);
  });

  it('while the runner is being started leaves neither a Job nor a registration', async () => {
    await harness();
    const payload = queued({ jobId: 80 });
    let cancellation: { status: number; body: Record<string, unknown> } | undefined;
    // The cancellation arrives after the record exists and is claimed, while the runner is being registered.
    h.github.holdAnswer('jit', async () => {
      h.github.setJobStatus(80, 'completed');
      cancellation = await deliver(completedPayload(payload));
    });
    const answer = await deliver(payload);
    expect(cancellation).toMatchObject({ status: 200, body: { outcome: 'cancelled' } });
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'cancelled' } });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(liveRegistrations()).toHaveLength(0);
  });

  it('marked on a record whose starter died is not undone by a redelivery that takes the record over', async () => {
    await harness();
    const payload = queued({ jobId: 81 });
    h.github.failNext('jit', 403);
    expect((await deliver(payload)).status).toBe(502);
    // A starter holds the record (it will die); the job is cancelled while the redelivery's first read, which
    // says queued, is on its way, and the cancellation marks the held record cancelled.
    const annotations = h.kubernetes.jobs.get('runner-81')?.metadata.annotations as Record<string, string>;
    annotations['kube-actions-runner.dev/claim'] = `dying-starter ${clock + 30_000}`;
    let cancellation: { body: Record<string, unknown> } | undefined;
    h.github.holdAnswer('job', async () => {
      h.github.setJobStatus(81, 'completed');
      cancellation = await deliver(completedPayload(payload));
    });
    const answer = await deliver(payload);
    expect(cancellation?.body).toMatchObject({ outcome: 'cancelled' });
    // The mark looks like a lapsed claim; taking the record over must ask GitHub again, not start the runner.
    expect(answer.body).toMatchObject({ outcome: 'ignored', reason: 'job is no longer queued (completed)' });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(liveRegistrations()).toHaveLength(0);
  });
});

describe('a start that outlives its claim', () => {
  // The claim lapses (30 s by default) while the start is slowed; another delivery may take the record over and
  // start it, so the slow one must no longer act as if the record were its own.
  it('does not delete the registration it finds: once the claim lapsed it may be a live runner', async () => {
    await harness();
    const payload = queued({ jobId: 86 });
    // A first attempt registered a runner, then failed: its registration stays, the record is queued.
    h.kubernetes.failNext('POST', 'secrets', 403);
    expect((await deliver(payload)).status).toBe(502);
    expect(liveRegistrations()).toHaveLength(1);
    // The next attempt's JIT meets that registration (409) only after its claim lapsed.
    h.github.holdAnswer('jit', async () => {
      clock += 31_000;
    });
    expect((await deliver(payload)).status).toBeGreaterThanOrEqual(500);
    expect(liveRegistrations()).toHaveLength(1);
    expect(h.kubernetes.jobs.get('runner-86')?.spec?.suspend).toBe(true);
  });

  it('does not reset the record over a Secret it finds, and removes only its own new registration', async () => {
    await harness();
    const payload = queued({ jobId: 87 });
    const uid = () => h.kubernetes.jobs.get('runner-87')?.metadata.uid;
    let before: string | undefined;
    h.github.holdAnswer('jit', async () => {
      before = uid();
      clock += 31_000;
    });
    h.kubernetes.failNext('POST', 'secrets', 409);
    expect((await deliver(payload)).status).toBeGreaterThanOrEqual(500);
    expect(before).toBeDefined();
    // The credential's shared GitHub budget (kar-budget-<hash>) is a Lease too; these count the others.
    expect([...h.kubernetes.leases.keys()].filter((name) => !name.startsWith('kar-budget-')).length).toBe(0); // no reset mark: no reset began
    expect(liveRegistrations()).toHaveLength(0);
    expect(uid()).toBe(before);
  });
});

describe('a start whose answer was lost', () => {
  it('is still a start: the retry meets its own change, and the runner is kept', async () => {
    await harness();
    const payload = queued({ jobId: 82 });
    // The API server applies the resume, then the connection drops: the retried patch finds the claim gone.
    h.kubernetes.loseAnswerNext('PATCH', 'jobs');
    expect((await deliver(payload)).body).toMatchObject({ outcome: 'created' });
    expect(h.kubernetes.jobs.get('runner-82')?.spec?.suspend).toBe(false);
    expect(liveRegistrations().map((runner) => runner.name)).toEqual(['runner-82']);
  });

  it('is still a start when the runner has already finished by the time it is read again', async () => {
    await harness();
    const payload = queued({ jobId: 84 });
    // A fast runner: its pod ran and the Job completed before the lost answer's retry read the record again
    // (seen on the real control plane, whose fake node finishes pods at once). The runner is ours, and it ran.
    h.kubernetes.loseAnswerNext('PATCH', 'jobs');
    h.kubernetes.afterNext('PATCH', 'jobs', () => h.kubernetes.completeJob('runner-84'));
    expect((await deliver(payload)).body).toMatchObject({ outcome: 'created' });
    expect(liveRegistrations().map((runner) => runner.name)).toEqual(['runner-84']);
  });
});

describe('a cancellation racing a status write', () => {
  it('reads the record again and still leaves it to its starter, never deleting it under a live claim', async () => {
    await harness();
    const payload = queued({ jobId: 83 });
    let cancellation: { body: Record<string, unknown> } | undefined;
    h.github.holdAnswer('jit', async () => {
      h.github.setJobStatus(83, 'completed');
      // While the cancellation asks GitHub, the Job controller writes the Job's status (a new resourceVersion).
      h.github.holdAnswer('job', async () => h.kubernetes.setReady('runner-83', 0));
      cancellation = await deliver(completedPayload(payload));
    });
    const answer = await deliver(payload);
    expect(cancellation?.body).toEqual({
      outcome: 'cancelled',
      job: 'runner-83',
      reason: 'job completed while its runner was being started',
    });
    expect(answer.body).toMatchObject({ outcome: 'cancelled' });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(liveRegistrations()).toHaveLength(0);
  });

  it('fails, to be delivered again, when it cannot mark the record; never a 2xx that leaves the runner', async () => {
    await harness();
    const payload = queued({ jobId: 84 });
    let cancellation: { status: number; body: Record<string, unknown> } | undefined;
    h.github.holdAnswer('jit', async () => {
      h.github.setJobStatus(84, 'completed');
      // Every try to mark the record meets a newer version of it (the Job controller, a busy API server).
      h.kubernetes.failNext('PATCH', 'jobs', 409, 3);
      cancellation = await deliver(completedPayload(payload));
    });
    const answer = await deliver(payload);
    // The starter kept its claim and started the runner: the cancellation must be a failure GitHub records, so that
    // its redelivery (reconcile asks for failed ones) removes the runner. A 2xx would leave it for ever.
    expect(answer.body).toMatchObject({ outcome: 'created' });
    expect(cancellation?.status).toBeGreaterThanOrEqual(500);
    expect((await deliver(completedPayload(payload))).body).toMatchObject({ outcome: 'cancelled' });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(liveRegistrations()).toHaveLength(0);
  });
});

describe('GitHub’s answer outranks the payload', () => {
  it('chooses the profile from the labels GitHub has for the job, not the payload’s', async () => {
    await harness({ LABEL_MATCHERS: 'linux' });
    const payload = queuedPayload({ jobId: 81, labels: ['self-hosted', 'linux', 'gpu'] });
    // GitHub's own copy of the job asks for less than the delivery claims.
    h.github.addJob(payload.repository.full_name, {
      ...payload.workflow_job,
      labels: ['self-hosted', 'linux'],
    });
    expect((await deliver(payload)).body).toMatchObject({ outcome: 'created' });
    expect(liveRegistrations()[0]?.labels).toEqual(['self-hosted', 'linux']);
  });

  it.each([
    ['public', 0],
    ['private', 1],
  ] as const)(
    'under PUBLIC_REPOSITORIES=deny, asks GitHub when the payload omits visibility (%s: %i Jobs)',
    async (visibility, jobs) => {
      await harness({ PUBLIC_REPOSITORIES: 'deny' });
      const payload = queuedPayload({ jobId: 90 });
      h.github.addJob(payload.repository.full_name, payload.workflow_job);
      h.github.setVisibility(payload.repository.full_name, visibility);
      const repository: Record<string, unknown> = { ...payload.repository };
      delete repository.private;
      delete repository.visibility;
      const answer = await deliver({ ...payload, repository });
      expect(answer.status).toBe(200);
      expect(h.kubernetes.jobs.size).toBe(jobs);
      if (jobs === 0)
        expect(answer.body).toMatchObject({ outcome: 'ignored', reason: expect.stringContaining('public') });
    },
  );
});
