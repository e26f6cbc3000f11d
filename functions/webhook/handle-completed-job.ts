import type { Logger } from '../../shared/log/create-logger.js';
import { runnerJobName } from '../../shared/records/record-schema.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';
import type { HandlerDeps } from './deps.js';
import type { Outcome } from './outcome.js';
import { removeRunner } from './remove-runner.js';
import { emptySettleReport, settleRecords } from './settle-records.js';

/** Most waiting records a `completed` delivery starts; the rest wait for the next runner to finish, or reconcile. */
const STARTS_PER_COMPLETION = 10;

/**
 * A job that completed without ever getting a runner (`runner_id` null: cancelled, or its run failed first) leaves
 * our runner waiting for a job that will not come. Remove its Job, Secret and registration. A JIT runner may take
 * any queued job with its labels, so a registration that is busy right now is running another job: leave it.
 */
export async function handleCompletedJob(
  deps: HandlerDeps,
  event: WorkflowJobEvent,
  log: Logger,
  deadline: Deadline,
): Promise<Outcome> {
  if (event.runnerId !== null) {
    // One of our runners finished (a JIT runner may have taken another job than its own): its slots are free,
    // so records waiting for capacity can start now rather than at the next reconcile.
    if (event.runnerName?.startsWith('runner-')) {
      await deps.records.releaseSlots(event.runnerName, deadline);
      if (
        deps.config.maxRunners !== undefined ||
        deps.config.profiles.some((p) => p.maxRunners !== undefined)
      ) {
        const report = emptySettleReport();
        let budget = STARTS_PER_COMPLETION;
        await settleRecords(deps, log, deadline, () => budget-- > 0, report);
        if (report.started > 0)
          log.info({ started: report.started }, 'started runner jobs that waited for capacity');
      }
    }
    return { outcome: 'ignored', reason: 'job completed on a runner' };
  }
  const name = runnerJobName(event.jobId);
  const record = await deps.records.getRecord(name, deadline);
  if (record === undefined) return { outcome: 'ignored', reason: 'no runner job for this job' };
  if (!(await removeRunner(deps, record, deadline))) {
    log.info({ job: name }, 'runner is busy with another job; left to finish');
    return { outcome: 'ignored', reason: 'runner is busy with another job' };
  }
  return { outcome: 'cancelled', job: name, reason: 'job completed before its runner started' };
}
