import type { Logger } from '../../shared/log/create-logger.js';
import { runnerJobName } from '../../shared/modes/build-runner-job.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';
import { type HandlerDeps, removeRunner } from './finish-runner.js';
import type { Outcome } from './handle-queued-job.js';
import { emptyReport, settleRecords } from './reconcile.js';

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
      await deps.runners.releaseSlots(event.runnerName, deadline);
      if (
        deps.config.maxRunners !== undefined ||
        deps.config.profiles.some((p) => p.maxRunners !== undefined)
      ) {
        const report = emptyReport();
        let budget = 10;
        await settleRecords(deps, log, deadline, () => budget-- > 0, report);
        if (report.finished > 0)
          log.info({ started: report.finished }, 'started runner jobs that waited for capacity');
      }
    }
    return { outcome: 'ignored', reason: 'job completed on a runner' };
  }
  const name = runnerJobName(event.jobId);
  const record = await deps.runners.getRecord(name, deadline);
  if (record === undefined) return { outcome: 'ignored', reason: 'no runner job for this job' };
  if (!(await removeRunner(deps, record, deadline))) {
    log.info({ job: name }, 'runner is busy with another job; left to finish');
    return { outcome: 'ignored', reason: 'runner is busy with another job' };
  }
  return { outcome: 'cancelled', job: name, reason: 'job completed before its runner started' };
}
