import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';

/**
 * Removes a runner that will never run (-> removed): its registration (unless a job is running on it), its record
 * (the Secret goes with the Job) and its slots. Returns false, and leaves everything, when the runner is busy: a
 * JIT runner may take any queued job with its labels.
 */
export async function removeRunner(
  deps: HandlerDeps,
  record: RunnerRecord,
  deadline: Deadline,
): Promise<boolean> {
  const registered = await deps.github.findRunner(record, record.name, deadline);
  if (registered?.busy) return false;
  if (registered) await deps.github.deleteRunner(record, registered.id, deadline);
  await deps.records.deleteRecord(record.name, deadline);
  await deps.records.releaseSlots(record.name, deadline);
  return true;
}
