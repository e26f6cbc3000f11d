/**
 * Reconcile as the platform serves it (one request, within Knative's timeout) and as the recovery of what
 * deliveries left behind: lost cancellations, runners whose job went elsewhere, registrations without a record.
 * Each test failed before the fix it names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { completedPayload } from '../stand-ins/payloads.js';
import {
  type AppHarness,
  addBacklog,
  addQueuedJob,
  deliverSigned,
  GITHUB_TOKEN,
  serveAsHook,
  startAppHarness,
} from './support/app-harness.js';

const TOKEN = 'reconcile-token-0123';
let h: AppHarness;
let closeServer: (() => void) | undefined;

afterEach(async () => {
  closeServer?.();
  closeServer = undefined;
  expect(h.github.violations).toEqual([]);
  await h.close();
});

const queued = (jobId: number, labels?: string[]) =>
  addQueuedJob(h, { jobId, ...(labels ? { labels } : {}) });

const deliver = (payload: unknown) => deliverSigned(h, payload);

async function reconcile() {
  const started = performance.now();
  const response = await h.app.request('/reconcile', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  const report = (await response.json()) as Record<string, number | boolean>;
  return { report, ms: performance.now() - started };
}

const backlog = (count: number) => addBacklog(h, count);

const started = () => [...h.kubernetes.jobs.values()].filter((job) => job.spec?.suspend === false).length;

describe('a reconcile pass', () => {
  it('fits its budget however slow GitHub is, says truncated, and the next passes finish the work', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN, RECONCILE_BUDGET_SECONDS: '2' });
    await backlog(20);
    // Every GitHub answer takes 100 ms: 20 records need several seconds, more than one pass may take.
    h.github.chaos(1, [{ delayMs: 100 }], () => 0);
    const passes: { report: Record<string, number | boolean>; ms: number }[] = [];
    do passes.push(await reconcile());
    while (passes.at(-1)?.report.truncated === true && passes.length < 20);
    h.github.chaos(0, [], () => 0);
    expect(passes.length).toBeGreaterThan(1);
    // One action may be under way when the budget's last second begins; none starts after it.
    for (const pass of passes) expect(pass.ms).toBeLessThan(2000 + 500);
    expect(passes.at(-1)?.report.truncated).toBe(false);
    expect(started()).toBe(20);
  });

  it('clears a backlog of 300 records in successive passes, each under the budget', async () => {
    // GitHub's budget is not what this measures: a second-long window lets every pass start what its time allows.
    h = await startAppHarness({
      RECONCILE_TOKEN: TOKEN,
      RECONCILE_BUDGET_SECONDS: '7',
      GITHUB_POINTS_PER_MINUTE: '900',
      GITHUB_LIMIT_WINDOW_SECONDS: '1',
    });
    await backlog(300);
    const passes: { report: Record<string, number | boolean>; ms: number }[] = [];
    // Called again while it says truncated, and (as the reconcile task does) while records wait for GitHub.
    for (;;) {
      passes.push(await reconcile());
      const { report } = passes.at(-1) as (typeof passes)[number];
      if (passes.length >= 50 || (report.truncated !== true && report.waitingForGitHub === 0)) break;
      if (report.truncated !== true) await new Promise((resolve) => setTimeout(resolve, 1100));
    }
    const total = passes.reduce((sum, pass) => sum + Number(pass.report.started), 0);
    expect(total).toBe(300);
    expect(started()).toBe(300);
    for (const pass of passes) expect(pass.ms).toBeLessThan(7000);
    expect(passes.length).toBeGreaterThanOrEqual(6);
  });
});

describe('reconcile removes what deliveries left behind', () => {
  it('redelivers a failed cancellation, which then removes the runner', async () => {
    h = await startAppHarness({
      RECONCILE_TOKEN: TOKEN,
      RECONCILE_HOOKS: 'lineville/elastic-machines-testing:7',
    });
    closeServer = await serveAsHook(h, { hookId: 7 });
    const payload = queued(501);
    expect(await h.github.deliver('workflow_job', payload)).toBe(200);
    h.github.setJobStatus(501, 'completed');
    // The cancellation meets a failing API server (as when the process is killed): GitHub records a failure.
    h.kubernetes.failNext('GET', 'jobs', 403);
    expect(await h.github.deliver('workflow_job', completedPayload(payload))).toBe(502);
    expect(h.kubernetes.jobs.has('runner-501')).toBe(true);
    const { report } = await reconcile();
    expect(report.redelivered).toBeGreaterThanOrEqual(1);
    await h.github.settled();
    expect(h.kubernetes.jobs.has('runner-501')).toBe(false);
    expect(h.github.runners.filter((runner) => !runner.deleted)).toHaveLength(0);
  });

  it('removes an idle runner whose job was taken by another runner, and leaves a busy one', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
    expect((await deliver(queued(601))).body).toMatchObject({ outcome: 'created' });
    expect((await deliver(queued(602, ['self-hosted', 'k8s', 'gpu']))).body).toMatchObject({
      outcome: 'created',
    });
    // Both jobs ran elsewhere; runner-602 then took another job of its labels and is busy with it. runner-601
    // cannot take 602's job (no gpu), so nothing of ours needs it.
    h.github.setJobStatus(601, 'in_progress');
    h.github.setJobFields(601, { runner_name: 'some-other-runner' });
    h.github.setJobStatus(602, 'completed');
    const busy = h.github.runners.find((runner) => runner.name === 'runner-602');
    if (busy) busy.busy = true;
    const { report } = await reconcile();
    expect(report).toMatchObject({ surplus: 1 });
    expect(h.kubernetes.jobs.has('runner-601')).toBe(false);
    expect(h.kubernetes.jobs.has('runner-602')).toBe(true);
    expect(h.github.runners.filter((runner) => !runner.deleted).map((runner) => runner.name)).toEqual([
      'runner-602',
    ]);
  });

  it("removes a cancelled job's idle runner although jobs with its labels wait, each with an idle runner of its own", async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
    for (const jobId of [621, 622])
      expect((await deliver(queued(jobId))).body).toMatchObject({ outcome: 'created' });
    // 621 is cancelled and its completed delivery lost; 622 still waits, and its own runner is idle: it needs no other.
    h.github.setJobStatus(621, 'completed');
    expect((await reconcile()).report).toMatchObject({ surplus: 1 });
    expect(h.github.runners.filter((runner) => !runner.deleted).map((runner) => runner.name)).toEqual([
      'runner-622',
    ]);
  });

  it("removes a cancelled job's idle runner even while a job it could take waits without one", async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
    for (const jobId of [621, 622])
      expect((await deliver(queued(jobId))).body).toMatchObject({ outcome: 'created' });
    // 622's own runner was taken (busy); 621 is cancelled and its completed delivery lost.
    const taken = h.github.runners.find((runner) => runner.name === 'runner-622');
    if (taken) taken.busy = true;
    h.github.setJobStatus(621, 'completed');
    expect((await reconcile()).report).toMatchObject({ surplus: 1 });
    expect(h.kubernetes.jobs.has('runner-621')).toBe(false);
  });

  it('keeps a runner whose job another runner took while a job it can take still waits', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
    for (const jobId of [611, 612])
      expect((await deliver(queued(jobId))).body).toMatchObject({ outcome: 'created' });
    // Equal labels: GitHub ran 611 on runner-612 (up first); 612 still waits for runner-611, whose pod is starting.
    h.github.setJobStatus(611, 'in_progress');
    h.github.setJobFields(611, { runner_name: 'runner-612' });
    const busy = h.github.runners.find((runner) => runner.name === 'runner-612');
    if (busy) busy.busy = true;
    expect((await reconcile()).report).toMatchObject({ surplus: 0 });
    expect(
      h.github.runners
        .filter((runner) => !runner.deleted)
        .map((runner) => runner.name)
        .sort(),
    ).toEqual(['runner-611', 'runner-612']);
  });

  it('keeps a runner that runs its own job, or whose job still waits', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
    for (const jobId of [701, 702])
      expect((await deliver(queued(jobId))).body).toMatchObject({ outcome: 'created' });
    h.github.setJobStatus(701, 'in_progress');
    h.github.setJobFields(701, { runner_name: 'runner-701' });
    expect((await reconcile()).report).toMatchObject({ surplus: 0, orphans: 0 });
    expect(h.kubernetes.jobs.size).toBe(2);
  });

  it('removes an idle runner-* registration that has no record', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
    const payload = queued(801);
    expect((await deliver(payload)).body).toMatchObject({ outcome: 'created' });
    // A start cut short after registering: the registration lives on, its record is gone.
    const response = await fetch(
      `${h.github.url}/repos/${payload.repository.full_name}/actions/runners/generate-jitconfig`,
      {
        method: 'POST',
        headers: { authorization: `token ${GITHUB_TOKEN}`, 'content-type': 'application/json' },
        body: JSON.stringify({
          name: 'runner-802',
          runner_group_id: 1,
          labels: ['self-hosted'],
          work_folder: '_work',
        }),
      },
    );
    expect(response.status).toBe(201);
    const { report } = await reconcile();
    expect(report).toMatchObject({ orphans: 1 });
    expect(h.github.runners.filter((runner) => !runner.deleted).map((runner) => runner.name)).toEqual([
      'runner-801',
    ]);
  });
});
