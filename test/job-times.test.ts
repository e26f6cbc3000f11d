/**
 * GitHub's times of our jobs as metrics (issue #30): time in queue from the `in_progress` delivery, time running
 * and the conclusion from the `completed` one, through the real route and the stand-ins.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { completedPayload, inProgressPayload, queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

let h: AppHarness;

beforeEach(async () => {
  h = await startAppHarness();
});
afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

async function deliver(payload: unknown) {
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  return h.app.request('/webhook', { method: 'POST', headers, body });
}

async function metric(line: string): Promise<number | undefined> {
  const text = await (await h.app.request('/metrics')).text();
  const found = text.split('\n').find((row) => row.startsWith(`${line} `));
  return found === undefined ? undefined : Number(found.slice(line.length + 1));
}

/** A job of the default profile, queued at GitHub at `created`. */
function queuedAt(created: string, jobId = 4242) {
  const payload = queuedPayload({ jobId, owner: 'octo', repo: 'app' });
  payload.workflow_job.created_at = created;
  payload.workflow_job.started_at = created;
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  return payload;
}

const series = 'profile="default",owner="octo",repo="app"';

describe("GitHub's times of a job on one of our runners", () => {
  it('observes the time in queue once the runner starts it, and the time running and conclusion at its end', async () => {
    // Queued at GitHub 2 s ago; its delivery starts our runner now; GitHub says the job started 10 s from now.
    const created = Math.floor(Date.now() / 1000) * 1000 - 2000;
    const startedAt = new Date(created + 12_000).toISOString();
    const queued = queuedAt(new Date(created).toISOString());
    expect((await deliver(queued)).status).toBe(200);
    const runner = { id: 7, name: 'runner-4242' };
    h.github.setJobStatus(4242, 'in_progress');
    expect((await deliver(inProgressPayload(queued, { ...runner, startedAt }))).status).toBe(200);
    expect(await metric(`runner_job_queued_seconds_count{${series}}`)).toBe(1);
    expect(await metric(`runner_job_queued_seconds_sum{${series}}`)).toBe(12);
    expect(await metric(`runner_job_queued_seconds_bucket{le="10",${series}}`)).toBe(0);
    expect(await metric(`runner_job_queued_seconds_bucket{le="30",${series}}`)).toBe(1);

    // Our share: from the runner's start (its record resumed) to GitHub's start of the job.
    const record = await h.records.getRecord('runner-4242');
    expect(record?.startedAt).toBeGreaterThan(created);
    const startup = await metric(`runner_startup_seconds_sum{${series}}`);
    expect(startup).toBeCloseTo((Date.parse(startedAt) - (record?.startedAt ?? 0)) / 1000, 3);
    expect(await metric(`runner_startup_seconds_count{${series}}`)).toBe(1);

    h.github.setJobStatus(4242, 'completed');
    const ended = completedPayload(queued, {
      runnerId: runner.id,
      runnerName: runner.name,
      conclusion: 'failure',
      startedAt,
      completedAt: new Date(created + 312_000).toISOString(),
    });
    expect((await deliver(ended)).status).toBe(200);
    expect(await metric(`runner_job_running_seconds_sum{${series}}`)).toBe(300);
    expect(await metric(`runner_jobs_completed_total{${series},conclusion="failure"}`)).toBe(1);
  });

  it('counts a job cancelled while queued, with no running time', async () => {
    const queued = queuedAt('2026-12-08T03:00:00Z');
    h.github.setJobStatus(4242, 'completed');
    expect((await deliver(completedPayload(queued))).status).toBe(200);
    expect(await metric(`runner_jobs_completed_total{${series},conclusion="cancelled"}`)).toBe(1);
    expect(await metric(`runner_job_running_seconds_count{${series}}`)).toBeUndefined();
  });

  it("leaves out jobs on another's runner and jobs no profile serves", async () => {
    const queued = queuedAt('2026-12-08T03:00:00Z');
    h.github.setJobStatus(4242, 'completed');
    const elsewhere = completedPayload(queued, { runnerId: 9, runnerName: 'someone-elses-runner' });
    expect((await deliver(elsewhere)).status).toBe(200);
    const other = queuedPayload({ jobId: 4343, owner: 'octo', repo: 'app', labels: ['ubuntu-latest'] });
    expect((await deliver(completedPayload(other))).status).toBe(200);
    const text = await (await h.app.request('/metrics')).text();
    expect(text).not.toMatch(/^runner_jobs_completed_total\{/m);
    expect(text).not.toMatch(/^runner_job_running_seconds_count\{/m);
  });

  it('observes nothing for a delivery that failed, so that its redelivery counts it once', async () => {
    const queued = queuedAt('2026-12-08T03:00:00Z');
    h.github.setJobStatus(4242, 'in_progress');
    // Taken by the runner of another job: the handler reads the job at GitHub, which fails for good.
    h.github.failNext('job', 404);
    const answer = await deliver(
      inProgressPayload(queued, { id: 7, name: 'runner-9999', startedAt: '2026-12-08T03:00:05Z' }),
    );
    expect(answer.status).toBe(422);
    expect(await metric(`runner_job_queued_seconds_count{${series}}`)).toBeUndefined();
  });
});
