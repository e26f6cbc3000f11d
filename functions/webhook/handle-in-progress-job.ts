import { sameName } from '../../shared/github/same-name.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { jobIdOfRunner } from '../../shared/records/record-schema.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';
import type { HandlerDeps } from './deps.js';
import type { Outcome } from './outcome.js';
import { replaceRunner } from './replace-runner.js';

/**
 * An `in_progress` delivery says which runner took the job (`runner_name`). When that runner was made for another
 * of our jobs, that job lost its runner: give it a replacement unless a runner able to take it is free (see
 * `replaceRunner`). Which runner took the job is read from GitHub, not from the payload.
 */
export async function handleInProgressJob(
  deps: HandlerDeps,
  event: WorkflowJobEvent,
  log: Logger,
  deadline: Deadline,
): Promise<Outcome> {
  const madeFor = jobIdOfRunner(event.runnerName);
  if (madeFor === event.jobId) {
    await observeStartup(deps, event, log, deadline);
    return { outcome: 'ignored', reason: 'job runs on its own runner' };
  }
  if (madeFor === undefined) return { outcome: 'ignored', reason: 'job runs on a runner not ours' };
  const running = await deps.github.getJob(event, event.jobId, deadline);
  if (running.runnerName !== event.runnerName) {
    return { outcome: 'ignored', reason: 'GitHub names another runner for this job' };
  }
  // Only a record of the delivery's own owner: one tenant's delivery never makes runners for another.
  const taken = (await deps.records.listRecordsOfJob(madeFor, deadline)).find(
    (record) => record.name === event.runnerName && sameName(record.owner, event.owner),
  );
  if (taken === undefined) return { outcome: 'ignored', reason: 'no runner job for the runner that took it' };
  const freed = await deps.records.listRecordsOfJob(event.jobId, deadline);
  const replacement = await replaceRunner(deps, taken, freed, log, deadline);
  return replacement.outcome === 'replaced'
    ? { outcome: 'replaced', job: replacement.job, reason: `another job took ${taken.name}` }
    : { outcome: 'ignored', reason: replacement.reason };
}

/**
 * Observes our share of the job's wait, from its runner's start (its record) to GitHub's `started_at`. Only for a
 * record of the delivery's own owner; a metric never fails a delivery, so a failed read is logged and skipped.
 */
async function observeStartup(deps: HandlerDeps, event: WorkflowJobEvent, log: Logger, deadline: Deadline) {
  const startedAt = event.times.startedAt;
  if (startedAt === undefined || event.runnerName === null) return;
  try {
    const record = await deps.records.getRecord(event.runnerName, deadline);
    if (record?.startedAt === undefined || !sameName(record.owner, event.owner)) return;
    if (startedAt < record.startedAt || record.profile === undefined) return;
    const series = { profile: record.profile, owner: event.owner, repo: event.repo };
    deps.metrics.runnerStartup.observe(series, (startedAt - record.startedAt) / 1000);
  } catch (error) {
    log.warn({ err: error }, "could not read the runner's record for its startup time");
  }
}
