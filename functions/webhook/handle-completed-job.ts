import { RecordConflictError } from '../../shared/errors/errors.js';
import { sameName } from '../../shared/github/same-name.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { CANCELLED_CLAIM, runnerJobName } from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';
import type { HandlerDeps } from './deps.js';
import { jobAtGitHub } from './job-at-github.js';
import type { Outcome } from './outcome.js';
import { removeRunner } from './remove-runner.js';
import { emptySettleReport, settleRecords } from './settle-records.js';
import { startWaitingRecords } from './start-waiting.js';

/** Most waiting records a `completed` delivery starts; the rest wait for the next runner to finish, or reconcile. */
const STARTS_PER_COMPLETION = 10;

/**
 * A `completed` delivery. With a runner: one of ours may have finished, so slots are free and waiting records may
 * start. Without one (`runner_id` null: cancelled, or its run failed first): the job's runner will never get its
 * job, so remove it (Job, Secret, registration), but only the record of this repository's job, only once GitHub
 * itself says the job is completed, and never a runner busy with another job (a JIT runner may take any queued job
 * with its labels). A record another delivery is starting right now is marked cancelled instead: that delivery's
 * conditional start fails, and it removes what it made. One that cannot be marked fails this delivery, which
 * reconcile has GitHub deliver again once the start is over.
 */
export async function handleCompletedJob(
  deps: HandlerDeps,
  event: WorkflowJobEvent,
  log: Logger,
  deadline: Deadline,
): Promise<Outcome> {
  if (event.runnerId !== null) return runnerFinished(deps, event, log, deadline);
  // The job's own record, and any replacement made when another job took its runner.
  const records = (await deps.records.listRecordsOfJob(event.jobId, deadline)).filter(
    // The record must be this repository's: a delivery of one tenant never acts on another's job.
    (record) => sameName(record.owner, event.owner) && sameName(record.repo, event.repo),
  );
  const first = records[0];
  if (first === undefined) return { outcome: 'ignored', reason: 'no runner job for this job' };
  const status = (await jobAtGitHub(deps, first, deadline))?.status ?? 'missing';
  if (status !== 'completed' && status !== 'missing') {
    log.warn(
      { job: first.name, status },
      'completed delivery for a job GitHub says is not completed; runner kept',
    );
    return { outcome: 'ignored', reason: `GitHub says the job is ${status}` };
  }
  const outcomes: Outcome[] = [];
  for (const record of records) outcomes.push(await cancelRecord(deps, record, log, deadline));
  const own = runnerJobName(event.jobId);
  return outcomes[records.findIndex((record) => record.name === own)] ?? (outcomes[0] as Outcome);
}

/** Removes one record of a job GitHub says completed, or leaves it to the delivery starting it right now. */
async function cancelRecord(
  deps: HandlerDeps,
  record: RunnerRecord,
  log: Logger,
  deadline: Deadline,
): Promise<Outcome> {
  const { name } = record;
  const now = (deps.now ?? Date.now)();
  let current: RunnerRecord | undefined = record;
  // A claim is replaced conditionally (on the record's resourceVersion), and the Job controller writes the
  // status of a new Job too: a conflict means "read again", not "someone else won". A few tries at most.
  for (let attempt = 0; attempt < 3 && current !== undefined && isStarting(current, now); attempt += 1) {
    if (await deps.records.claimRecord(current, CANCELLED_CLAIM, deadline)) {
      log.info({ job: name }, 'cancelled a runner job another delivery is starting; it removes what it made');
      return { outcome: 'cancelled', job: name, reason: 'job completed while its runner was being started' };
    }
    current = await deps.records.getRecord(name, deadline);
  }
  if (current === undefined) return { outcome: 'ignored', reason: 'no runner job for this job' };
  if (isStarting(current, now)) {
    // Still held after every try, and never deleted under a live claim: its starter goes on and starts the runner.
    // Fail, so that GitHub records the cancellation as undelivered and reconcile asks for it again, when the record
    // is started and the runner can be removed. A 2xx here would leave the runner with no job for ever.
    throw new RecordConflictError('the runner job is being started and could not be marked cancelled');
  }
  // Unclaimed, or started since it was read: remove what is there now.
  if (!(await removeRunner(deps, current, deadline))) {
    log.info({ job: name }, 'runner is busy with another job; left to finish');
    return { outcome: 'ignored', reason: 'runner is busy with another job' };
  }
  return { outcome: 'cancelled', job: name, reason: 'job completed before its runner started' };
}

/** A queued record under a live claim: another delivery (or reconcile) is starting its runner right now. */
function isStarting(record: RunnerRecord, now: number): boolean {
  return record.state === 'queued' && record.claim !== undefined && record.claim.until > now;
}

/**
 * One of our runners finished (a JIT runner may have taken another job than its own): its slots are free, so
 * records waiting for capacity can start now rather than at the next reconcile. Only for a runner of the
 * delivery's own owner: another tenant's delivery cannot free our slots.
 */
async function runnerFinished(
  deps: HandlerDeps,
  event: WorkflowJobEvent,
  log: Logger,
  deadline: Deadline,
): Promise<Outcome> {
  const runnerName = event.runnerName;
  if (runnerName?.startsWith('runner-')) {
    const record = await deps.records.getRecord(runnerName, deadline);
    if (record !== undefined && sameName(record.owner, event.owner)) {
      await deps.records.releaseSlots(runnerName, deadline);
      const capped =
        deps.config.maxRunners !== undefined || deps.config.profiles.some((p) => p.maxRunners !== undefined);
      if (capped) {
        const report = emptySettleReport();
        let budget = STARTS_PER_COMPLETION;
        await settleRecords(deps, log, deadline, () => budget-- > 0, report);
        if (report.started > 0)
          log.info({ started: report.started }, 'started runner jobs that waited for capacity');
      } else {
        // Uncapped, records may still wait for GitHub's limits: start some, as the budget allows.
        await startWaitingRecords(deps, event, log, deadline, STARTS_PER_COMPLETION);
      }
    }
  }
  return { outcome: 'ignored', reason: 'job completed on a runner' };
}
