import type { Logger } from '../../shared/log/create-logger.js';
import { runnerJobName } from '../../shared/records/record-schema.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import { DELIVERY_BUDGET_MS } from '../../shared/webhook/delivery-budget.js';
import type { HandlerDeps } from './deps.js';
import { remakeRecord } from './remake-record.js';

/** A reset is done by one delivery, within its budget; a mark older than this belongs to one that was cut short. */
const RESET_GRACE_MS = 2 * DELIVERY_BUDGET_MS;

/** What restoring resets did. */
export interface RestoreReport {
  /** Records made again from the mark of a reset that was cut short (see RecordStore.markReset). */
  restored: number;
  /** Marks of resets that may still be under way, left for a later pass. */
  resetsUnderWay: number;
  failures: number;
}

/** Makes again the records whose reset was cut short, and clears the marks of resets that are done. */
export async function restoreResets(
  deps: HandlerDeps,
  log: Logger,
  deadline: Deadline,
  spend: () => boolean,
  report: RestoreReport,
): Promise<void> {
  const now = deps.now ?? Date.now;
  for (const mark of await deps.records.listResetMarks(deadline)) {
    if (now() - mark.markedAt < RESET_GRACE_MS) {
      report.resetsUnderWay += 1;
      continue;
    }
    if (!spend()) return;
    const name = runnerJobName(mark.fields.jobId);
    try {
      // Only a live record lets the mark go; an old Job still going away keeps it for a later pass.
      const remade = await remakeRecord(deps, mark.fields, deadline);
      if (remade === undefined) {
        report.resetsUnderWay += 1;
        continue;
      }
      if (remade.made) {
        report.restored += 1;
        log.info({ job: name }, 'made again a runner job whose reset was cut short');
      }
      await deps.records.clearResetMark(mark.fields.jobId, deadline);
    } catch (error) {
      report.failures += 1;
      log.warn({ job: name, err: error }, 'could not restore a reset runner job');
    }
  }
}
