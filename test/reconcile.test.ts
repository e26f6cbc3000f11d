import { afterEach, describe, expect, it } from 'vitest';
import { completedPayload, queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, serveAsHook, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';
import { APP, APP_ENV } from './support/github-app.js';

const TOKEN = 'reconcile-token-0123';
let h: AppHarness;
let clock = Date.now();
let closeServer: (() => void) | undefined;

async function harness(
  env: Record<string, string> = {},
  github: NonNullable<Parameters<typeof startAppHarness>[1]>['github'] = {},
) {
  clock = Date.now();
  h = await startAppHarness({ RECONCILE_TOKEN: TOKEN, ...env }, { now: () => clock, github });
  return h;
}

afterEach(async () => {
  closeServer?.();
  closeServer = undefined;
  expect(h.github.violations).toEqual([]);
  await h.close();
});

function queued(jobId = 12877621891) {
  const payload = queuedPayload({ jobId });
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  return payload;
}

async function deliver(payload: unknown) {
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  return h.app.request('/webhook', { method: 'POST', headers, body });
}

async function runReconcile(token = TOKEN) {
  return h.app.request('/reconcile', { method: 'POST', headers: { authorization: `Bearer ${token}` } });
}

describe('POST /reconcile access', () => {
  it('refuses a wrong token with 401 and is closed without RECONCILE_TOKEN', async () => {
    await harness();
    expect((await runReconcile('wrong')).status).toBe(401);
    expect((await h.app.request('/reconcile', { method: 'POST' })).status).toBe(401);
    await h.close();
    h = await startAppHarness();
    const closed = await runReconcile();
    expect(closed.status).toBe(403);
    expect(await closed.json()).toEqual({
      error: 'reconcile is switched off: set RECONCILE_TOKEN to allow POST /reconcile',
    });
  });
});

it('takes the token only as a bearer token, not as the CloudEvent extension of the PingSource it no longer ships', async () => {
  await harness();
  const response = await h.app.request('/reconcile', {
    method: 'POST',
    headers: { 'ce-reconciletoken': TOKEN },
  });
  expect(response.status).toBe(401);
});

describe('unfinished records', () => {
  it('gives a queued job whose delivery failed half-way its runner', async () => {
    await harness();
    h.github.failNext('jit', 403);
    expect((await deliver(queued())).status).toBe(502);
    const response = await runReconcile();
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ started: 1, removed: 0, failures: 0 });
    expect(h.kubernetes.jobs.get('runner-12877621891')?.spec?.suspend).toBe(false);
    expect(h.kubernetes.secrets.has('runner-12877621891')).toBe(true);
  });

  it('removes a record whose job no longer waits, with its registration', async () => {
    await harness();
    h.kubernetes.failNext('POST', 'secrets', 403);
    const payload = queued();
    expect((await deliver(payload)).status).toBe(502);
    h.github.setJobStatus(payload.workflow_job.id, 'completed');
    expect(await (await runReconcile()).json()).toMatchObject({ started: 0, removed: 1 });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(h.github.runners.filter((runner) => !runner.deleted)).toHaveLength(0);
  });

  it('leaves a record alone while someone holds its claim, and takes it once the claim expires', async () => {
    await harness();
    h.github.failNext('jit', 403);
    await deliver(queued());
    const annotations = h.kubernetes.jobs.get('runner-12877621891')?.metadata.annotations as Record<
      string,
      string
    >;
    annotations['kube-actions-runner.dev/claim'] = `other ${clock + 30_000}`;
    expect(await (await runReconcile()).json()).toMatchObject({ started: 0 });
    clock += 31_000;
    expect(await (await runReconcile()).json()).toMatchObject({ started: 1 });
  });

  it('replaces a runner whose pod never became ready within RUNNER_START_TIMEOUT_SECONDS, twice at most', async () => {
    await harness({ RUNNER_START_TIMEOUT_SECONDS: '600' });
    expect((await deliver(queued())).status).toBe(200);
    expect(await (await runReconcile()).json()).toMatchObject({ timedOut: 0 });
    const live = () => h.github.runners.filter((runner) => !runner.deleted).map((runner) => runner.name);
    // Its job still waits at GitHub: a new runner, then another, then no more (a bad image never comes up).
    for (const name of ['runner-12877621891-2', 'runner-12877621891-3']) {
      clock += 601_000;
      expect(await (await runReconcile()).json()).toMatchObject({ timedOut: 1, replaced: 1 });
      expect([...h.kubernetes.jobs.keys()]).toEqual([name]);
      expect(h.kubernetes.jobs.get(name)?.spec?.suspend).toBe(false);
      expect(live()).toEqual([name]);
    }
    clock += 601_000;
    expect(await (await runReconcile()).json()).toMatchObject({ timedOut: 1, replaced: 0 });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(live()).toEqual([]);
  });

  it('replaces a runner whose pod failed before it took its job, three runners in all', async () => {
    await harness();
    expect((await deliver(queued())).status).toBe(200);
    const live = () => h.github.runners.filter((runner) => !runner.deleted).map((runner) => runner.name);
    // The runner crashed at start (an image the runner service refuses, say): the Job failed, its registration
    // stays unused, and GitHub still has the job queued.
    for (const [failed, next] of [
      ['runner-12877621891', 'runner-12877621891-2'],
      ['runner-12877621891-2', 'runner-12877621891-3'],
    ] as const) {
      h.kubernetes.failJob(failed);
      expect(await (await runReconcile()).json()).toMatchObject({ died: 1, replaced: 1, timedOut: 0 });
      expect([...h.kubernetes.jobs.keys()]).toEqual([next]);
      expect(live()).toEqual([next]);
    }
    h.kubernetes.failJob('runner-12877621891-3');
    expect(await (await runReconcile()).json()).toMatchObject({ died: 1, replaced: 0 });
    expect(live()).toEqual([]);
    expect(h.logs).toContainEqual(expect.objectContaining({ level: 'error', why: 'its runner pod failed' }));
  });

  it('keeps a failed runner until its replacement exists: a pass that cannot ask GitHub loses no job', async () => {
    await harness();
    expect((await deliver(queued())).status).toBe(200);
    h.kubernetes.failJob('runner-12877621891');
    // GitHub fails every read of the job during this pass: no replacement can be decided.
    h.github.failNext('job', 503, 1000);
    expect(await (await runReconcile()).json()).toMatchObject({ replaced: 0 });
    expect([...h.kubernetes.jobs.keys()]).toEqual(['runner-12877621891']);
    h.github.failNext('job', 503, 0);
    expect(await (await runReconcile()).json()).toMatchObject({ died: 1, replaced: 1 });
    expect([...h.kubernetes.jobs.keys()]).toEqual(['runner-12877621891-2']);
  });

  it('leaves a runner that ran its job and succeeded, and removes a failed one whose job ran elsewhere', async () => {
    await harness();
    expect((await deliver(queued(1201))).status).toBe(200);
    expect((await deliver(queued(1202))).status).toBe(200);
    h.kubernetes.completeJob('runner-1201');
    h.kubernetes.failJob('runner-1202');
    h.github.setJobStatus(1202, 'completed');
    expect(await (await runReconcile()).json()).toMatchObject({ died: 1, replaced: 0 });
    expect([...h.kubernetes.jobs.keys()]).toEqual(['runner-1201']);
    expect(h.github.runners.filter((runner) => !runner.deleted).map((runner) => runner.name)).toEqual([
      'runner-1201',
    ]);
  });

  it('removes a runner that never came up without a replacement once its job no longer waits', async () => {
    await harness({ RUNNER_START_TIMEOUT_SECONDS: '600' });
    expect((await deliver(queued())).status).toBe(200);
    h.github.setJobStatus(12877621891, 'completed');
    clock += 601_000;
    expect(await (await runReconcile()).json()).toMatchObject({ timedOut: 1, replaced: 0 });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(h.github.runners.filter((runner) => !runner.deleted)).toHaveLength(0);
  });
});

describe('a pass cut short by its deadline', () => {
  it.each([
    ['reading the job', 'job'],
    ['registering the runner', 'jit'],
  ] as const)(
    'leaves a start cut mid-way (%s) to the next pass, and says truncated',
    async (_step, route) => {
      await harness({ RECONCILE_BUDGET_SECONDS: '2' });
      // A delivery cut short left the record queued and unclaimed.
      h.github.failNext('jit', 403);
      expect((await deliver(queued())).status).toBe(502);
      // GitHub answers this step only after the pass's whole budget: the deadline cuts the start under way (as a
      // loaded machine does when the budget's last second is not enough for the action started before it).
      h.github.inject(route, { delayMs: 2500 });
      expect(await (await runReconcile()).json()).toMatchObject({ started: 0, failures: 1, truncated: true });
      // The cut start let its claim go (a held claim makes every pass skip the record until it expires).
      expect(await (await runReconcile()).json()).toMatchObject({
        started: 1,
        failures: 0,
        truncated: false,
      });
      expect(h.kubernetes.jobs.get('runner-12877621891')?.spec?.suspend).toBe(false);
    },
  );
});

describe('failed deliveries', () => {
  it('asks GitHub to redeliver a queued delivery that never got a 2xx, and only that one', async () => {
    await harness({ RECONCILE_HOOKS: 'lineville/elastic-machines-testing:292430182' });
    closeServer = await serveAsHook(h, { hookId: 292430182 });

    // The API server refuses the first delivery: no record is left, only GitHub knows the job waits.
    h.kubernetes.failNext('POST', 'jobs', 403);
    const lost = queued(1001);
    expect(await h.github.deliver('workflow_job', lost)).toBe(502);
    const fine = queued(1002);
    expect(await h.github.deliver('workflow_job', fine)).toBe(200);
    expect(h.kubernetes.jobs.has('runner-1001')).toBe(false);

    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 1, failures: 0 });
    // The redelivery is GitHub's, sent after its 202: wait until the function answered it and GitHub recorded the
    // answer. (The Job is resumed before the answer is written, so waiting on the Job reads the log too early.)
    await h.github.settled();
    expect(h.kubernetes.jobs.get('runner-1001')?.spec?.suspend).toBe(false);
    const attempts = h.github.deliveries.filter((d) => d.guid === h.github.deliveries[0]?.guid);
    expect(attempts.map((d) => [d.redelivery, d.statusCode])).toEqual([
      [false, 502],
      [true, 200],
    ]);
    // Nothing is left to redeliver.
    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 0 });
  });

  it('finds a failed delivery behind a burst of newer ones, and once looked through lists back only to its mark', async () => {
    await harness({ RECONCILE_HOOKS: 'lineville/elastic-machines-testing:292430182' });
    closeServer = await serveAsHook(h, { hookId: 292430182 });
    // Half an hour ago a queued delivery failed; a matrix burst's 1,500 deliveries (answered) followed it.
    const lost = queued(1004);
    h.github.addPastDeliveries('workflow_job', lost, { count: 1, statusCode: 502, minutesAgo: 30 });
    const other = completedPayload(queuedPayload({ jobId: 1005 }));
    h.github.addPastDeliveries('workflow_job', other, { count: 1500, statusCode: 200, minutesAgo: 20 });
    const pages = () => h.github.calls.filter((call) => call.route === 'deliveries').length;

    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 1, failures: 0 });
    await h.github.settled();
    expect(h.kubernetes.jobs.get('runner-1004')?.spec?.suspend).toBe(false);
    // GitHub pages deliveries 100 at a time: every page back to the failed one was read.
    expect(pages()).toBe(16);
    // The next pass lists back to the mark the first left (the burst less a margin), and moves it to its newest
    // delivery, the redelivery; the one after reads a single page.
    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 0 });
    const before = pages();
    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 0 });
    expect(pages() - before).toBe(1);
  });

  it('goes on where the last pass stopped when the pages are more than one pass can read', async () => {
    await harness({
      RECONCILE_HOOKS: 'lineville/elastic-machines-testing:292430182',
      RECONCILE_BUDGET_SECONDS: '2',
    });
    closeServer = await serveAsHook(h, { hookId: 292430182 });
    // The oldest failed delivery lies 4 pages deep; a newer one failed on the first page.
    const oldest = queued(1006);
    h.github.addPastDeliveries('workflow_job', oldest, { count: 1, statusCode: 502, minutesAgo: 30 });
    const other = completedPayload(queuedPayload({ jobId: 1007 }));
    h.github.addPastDeliveries('workflow_job', other, { count: 350, statusCode: 200, minutesAgo: 20 });
    const newest = queued(1008);
    h.github.addPastDeliveries('workflow_job', newest, { count: 1, statusCode: 502, minutesAgo: 10 });
    // GitHub answers each page in 300 ms: a 2 s pass reads about two.
    h.github.inject('deliveries', { delayMs: 300 }, 1000);

    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 1, failures: 0 });
    await h.github.settled();
    expect(h.kubernetes.jobs.has('runner-1008')).toBe(true);
    expect(h.kubernetes.jobs.has('runner-1006')).toBe(false);
    // The next passes read on from where the first stopped, down to the oldest.
    for (let pass = 0; pass < 4 && !h.kubernetes.jobs.has('runner-1006'); pass += 1) {
      await runReconcile();
      await h.github.settled();
    }
    expect(h.kubernetes.jobs.get('runner-1006')?.spec?.suspend).toBe(false);
  });

  it('finishes the record of a failed delivery instead of asking GitHub to redeliver it', async () => {
    await harness({ RECONCILE_HOOKS: 'lineville/elastic-machines-testing:292430182' });
    closeServer = await serveAsHook(h, { hookId: 292430182 });
    // The record is made, then the registration fails: GitHub shows a failed delivery of a recorded job.
    h.github.failNext('jit', 403);
    expect(await h.github.deliver('workflow_job', queued(1003))).toBe(502);
    expect(h.kubernetes.jobs.get('runner-1003')?.spec?.suspend).toBe(true);
    clock += 60_000;
    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 0, started: 1, failures: 0 });
    expect(h.github.calls.filter((call) => call.route === 'redeliver')).toHaveLength(0);
    expect(h.kubernetes.jobs.get('runner-1003')?.spec?.suspend).toBe(false);
  });

  it("in App mode, redelivers through the App webhook's own deliveries, authenticated as the App", async () => {
    await harness(APP_ENV, { apps: [APP] });
    closeServer = await serveAsHook(h, { hookId: 5150, app: true });

    const appPayload = (jobId: number) => {
      const payload = queuedPayload({ jobId, owner: 'octo-org', repo: 'r', installationId: 11 });
      h.github.addJob(payload.repository.full_name, payload.workflow_job);
      return payload;
    };
    h.kubernetes.failNext('POST', 'jobs', 403);
    expect(await h.github.deliver('workflow_job', appPayload(3001))).toBe(502);
    expect(await h.github.deliver('workflow_job', appPayload(3002))).toBe(200);

    // No repository hook is consulted for the App's hook id (that would be a 404 on every pass).
    const report = await (await runReconcile()).json();
    expect(report).toMatchObject({ redelivered: 1, failures: 0 });
    await h.github.settled();
    expect(h.kubernetes.jobs.get('runner-3001')?.spec?.suspend).toBe(false);
    expect(h.github.deliveries.map((d) => [d.app, d.redelivery, d.statusCode])).toEqual([
      [true, false, 502],
      [true, false, 200],
      [true, true, 200],
    ]);
    expect(h.github.calls.some((call) => call.path.includes('/hooks/5150/'))).toBe(false);
    expect(await (await runReconcile()).json()).toMatchObject({ redelivered: 0, failures: 0 });
  });
});

describe('a reset cut short', () => {
  const resetMarks = () =>
    [...h.kubernetes.leases.values()].filter(
      (lease) => lease.metadata.labels?.['kube-actions-runner.dev/reset'] === 'true',
    );

  it.each([
    ['refused (403)', 403],
    ['answered "already exists" although it does not (409)', 409],
  ])(
    'leaves its mark when making the record again is %s, and reconcile makes it from the mark',
    async (_how, status) => {
      await harness();
      const payload = queued(4001);
      // A Secret of this name exists (an interrupted attempt's), so the record is reset: deleted and made anew;
      // and making it anew fails (the first create of the delivery passes, the second does not).
      h.kubernetes.failNext('POST', 'secrets', 409);
      h.kubernetes.failNext('POST', 'jobs', status, 1, 1);
      expect((await deliver(payload)).status).toBe(502);
      expect(h.kubernetes.jobs.has('runner-4001')).toBe(false);
      expect(resetMarks()).toHaveLength(1);

      // A young mark may belong to a reset still under way: left alone.
      expect(await (await runReconcile()).json()).toMatchObject({ restored: 0, resetsUnderWay: 1 });
      expect(h.kubernetes.jobs.has('runner-4001')).toBe(false);

      clock += 20_000;
      expect(await (await runReconcile()).json()).toMatchObject({
        restored: 1,
        resetsUnderWay: 0,
        failures: 0,
      });
      // Made again and, its job still queued, finished in the same pass.
      expect(h.kubernetes.jobs.get('runner-4001')?.spec?.suspend).toBe(false);
      expect(h.github.runners.filter((runner) => !runner.deleted)).toHaveLength(1);
      expect(resetMarks()).toHaveLength(0);
    },
  );

  it('keeps a mark whose record it could not make yet, and makes it on a later pass', async () => {
    await harness();
    const fields = {
      owner: 'lineville',
      repo: 'elastic-machines-testing',
      jobId: 4003,
      runId: 1,
      runAttempt: 1,
      deliveryId: 'd',
      // A record is started only with the labels GitHub holds for its job.
      jobLabels: queued(4003).workflow_job.labels,
    };
    await h.records.markReset(fields);
    clock += 20_000;
    // "Already exists", but nothing is there: the mark must not go.
    h.kubernetes.failNext('POST', 'jobs', 409);
    expect(await (await runReconcile()).json()).toMatchObject({ restored: 0, resetsUnderWay: 1 });
    expect(resetMarks()).toHaveLength(1);
    expect(await (await runReconcile()).json()).toMatchObject({ restored: 1, resetsUnderWay: 0 });
    expect(h.kubernetes.jobs.get('runner-4003')?.spec?.suspend).toBe(false);
    expect(resetMarks()).toHaveLength(0);
  });

  it('clears the mark of a reset that completed (the Job exists) without touching the Job', async () => {
    await harness();
    await h.records.markReset({
      owner: 'lineville',
      repo: 'elastic-machines-testing',
      jobId: 4002,
      runId: 1,
      runAttempt: 1,
      deliveryId: 'd',
      jobLabels: ['self-hosted'],
    });
    const payload = queued(4002);
    expect((await deliver(payload)).status).toBe(200);
    const uid = h.kubernetes.jobs.get('runner-4002')?.metadata.uid;
    clock += 20_000;
    expect(await (await runReconcile()).json()).toMatchObject({ restored: 0, resetsUnderWay: 0 });
    expect(h.kubernetes.jobs.get('runner-4002')?.metadata.uid).toBe(uid);
    expect(resetMarks()).toHaveLength(0);
  });
});
