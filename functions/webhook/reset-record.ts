import { RecordConflictError } from '../../shared/errors/errors.js';
import type { JitRunner } from '../../shared/github/github-client.js';
import type { Logger } from '../../shared/log/create-logger.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { remakeRecord } from './remake-record.js';

/**
 * Resets a record (queued -> removed -> queued) whose JIT Secret an interrupted attempt left behind: that config
 * may belong to a registration just replaced, and a pod started on it could never connect. Deletes the Job (the
 * garbage collector takes the Secret with it) and the new registration, and records the job anew, queued and
 * unclaimed, so that a redelivery or reconcile starts over. Always throws: this delivery did not start a runner.
 *
 * The record must outlive the reset: another delivery of this job may already have been answered 2xx on the
 * strength of it. So the reset is marked first, apart from the Job: if it is cut short between the delete and the
 * create (the API server failing, the process killed), reconcile makes the record again from the mark.
 */
export async function resetRecord(
  deps: HandlerDeps,
  record: RunnerRecord,
  runner: JitRunner,
  log: Logger,
  deadline: Deadline,
): Promise<never> {
  const { records } = deps;
  await records.markReset(record, deadline);
  await deps.github.deleteRunner(record, runner.runnerId, deadline);
  await records.deleteRecord(record.name, deadline);
  // Only a live record lets the mark go; otherwise it stays, and reconcile makes the record once it can.
  if ((await remakeRecord(deps, record, deadline, record.name)) === undefined) {
    throw new RecordConflictError('the reset runner job could not be made again yet');
  }
  await records.clearResetMark(record.jobId, deadline).catch((clearError: unknown) => {
    log.warn({ job: record.name, err: clearError }, 'could not clear the reset mark; reconcile will');
  });
  throw new RecordConflictError('an interrupted attempt left a JIT Secret; the runner job was reset');
}
