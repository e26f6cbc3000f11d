/**
 * The queued handler's label guard (`sameLabels`, shared/labels/same-labels.ts). GitHub refused the first read of
 * the job for its limits, so the record was made from the signed payload's labels; the read after the record
 * exists answers, and GitHub's labels decide. The guard is reached only on that path, which no other test
 * arranges: a 429 on the first `GET .../jobs/{job_id}`, then an answer once the pause is over.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AppHarness, addQueuedJob, deliverSigned, startAppHarness } from './support/app-harness.js';

let h: AppHarness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

/** A harness whose clock passes GitHub's pause while the record is created, between the two reads. */
async function harnessPausedOnce(): Promise<AppHarness> {
  let clock = Date.now();
  const harness = await startAppHarness({}, { now: () => clock });
  const createRecord = harness.deps.records.createRecord.bind(harness.deps.records);
  harness.deps.records.createRecord = async (...args) => {
    clock += 5_000;
    return createRecord(...args);
  };
  harness.github.inject('job', { status: 429, retryAfterSeconds: 1 }, 1);
  return harness;
}

const jobReads = (harness: AppHarness) => harness.github.calls.filter((call) => call.route === 'job');

describe("the payload's labels against GitHub's, when GitHub refused the first read", () => {
  it("removes the record and starts nothing when GitHub's labels differ from the payload's", async () => {
    h = await harnessPausedOnce();
    const payload = addQueuedJob(h, { jobId: 7101, labels: ['self-hosted', 'linux'] });
    h.github.setJobFields(7101, { labels: ['self-hosted', 'linux', 'gpu'] });
    const answer = await deliverSigned(h, payload);
    expect(answer.body).toMatchObject({
      outcome: 'ignored',
      reason: "the delivery's labels differ from the job's at GitHub",
    });
    expect(jobReads(h).map((call) => call.status)).toEqual([429, 200]);
    expect(h.kubernetes.jobs.has('runner-7101')).toBe(false);
    expect(h.github.calls.filter((call) => call.route === 'jit')).toHaveLength(0);
  });

  it('starts the runner when GitHub names the same labels in another order and case', async () => {
    h = await harnessPausedOnce();
    const payload = addQueuedJob(h, { jobId: 7102, labels: ['self-hosted', 'linux'] });
    h.github.setJobFields(7102, { labels: ['Linux', 'Self-Hosted', 'linux'] });
    const answer = await deliverSigned(h, payload);
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ outcome: 'created', job: 'runner-7102' });
    expect(jobReads(h).map((call) => call.status)).toEqual([429, 200]);
    expect(h.kubernetes.jobs.get('runner-7102')?.spec?.suspend).toBe(false);
  });
});
