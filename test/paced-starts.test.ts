import { afterEach, expect, it } from 'vitest';
import { startWaitingRecords } from '../functions/webhook/start-waiting.js';
import { CLOCK_SKEW_MS } from '../shared/github/budget-ledger.js';
import { deadlineIn } from '../shared/retry/with-retries.js';
import { completedPayload } from '../stand-ins/payloads.js';
import { type AppHarness, addQueuedJob, deliverSigned, startAppHarness } from './support/app-harness.js';

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const registrations = (harness: AppHarness) =>
  harness.github.calls.filter((call) => call.route === 'jit').length;

it("answers 202 waiting when the instance's GitHub budget is spent, and starts the record when a runner finishes", async () => {
  let clock = Date.now();
  // 12 points a minute: two JIT registrations (5 each), twelve job reads.
  h = await startAppHarness({ GITHUB_POINTS_PER_MINUTE: '12' }, { now: () => clock });
  const jobs = [1, 2, 3].map((index) => addQueuedJob(h as AppHarness, { jobId: 5000 + index }));
  const answers = [];
  for (const payload of jobs) answers.push(await deliverSigned(h, payload));
  expect(answers.map((answer) => answer.status)).toEqual([200, 200, 202]);
  expect(answers[2]?.body).toMatchObject({ outcome: 'waiting', job: 'runner-5003' });
  expect(String(answers[2]?.body.reason)).toMatch(/budget .* is spent/);
  expect(h.kubernetes.jobs.get('runner-5003')?.spec?.suspend).toBe(true);
  expect(registrations(h)).toBe(2);

  // Within the minute, a finished runner starts nothing: the budget is still spent.
  const first = jobs[0] as (typeof jobs)[number];
  const ranOn = { runnerId: 1, runnerName: 'runner-5001' };
  h.github.setJobStatus(5001, 'completed');
  expect((await deliverSigned(h, completedPayload(first, ranOn))).status).toBe(200);
  expect(registrations(h)).toBe(2);

  // A minute after the registrations' answers (and the shared ledger's allowance for clocks that differ), the next
  // completed delivery starts the waiting record.
  clock += 60_000 + CLOCK_SKEW_MS;
  const second = jobs[1] as (typeof jobs)[number];
  h.github.setJobStatus(5002, 'completed');
  expect(
    (await deliverSigned(h, completedPayload(second, { runnerId: 2, runnerName: 'runner-5002' }))).status,
  ).toBe(200);
  expect(h.kubernetes.jobs.get('runner-5003')?.spec?.suspend).toBe(false);
  expect(registrations(h)).toBe(3);
  const metrics = await h.metrics.registry.metrics();
  expect(metrics).toMatch(/runner_queued_to_registered_seconds_count 3/);
});

it('starts waiting records one pass at a time in an instance: concurrent deliveries do not each list every record', async () => {
  h = await startAppHarness();
  const { deps } = h;
  let lists = 0;
  const listRecords = deps.records.listRecords.bind(deps.records);
  deps.records.listRecords = async (deadline) => {
    lists += 1;
    return listRecords(deadline);
  };
  // GitHub's limits refused something lately (a call too close to its deadline), so a backlog is likely.
  await expect(deps.budget?.acquire('pat:fallback', 'GET /x', deadlineIn(100))).rejects.toThrow(/too little/);
  const repo = { owner: 'octo-org', repo: 'example' };
  const log = deps.log;
  await Promise.all([1, 2, 3, 4].map(() => startWaitingRecords(deps, repo, log, deadlineIn(8000))));
  expect(lists).toBe(1);
  // Once that pass is over, the next delivery starts another.
  await startWaitingRecords(deps, repo, log, deadlineIn(8000));
  expect(lists).toBe(2);
});
