import type { Logger } from '../../shared/log/create-logger.js';
import type { Claim } from '../../shared/records/record-schema.js';
import { type Deadline, deadlineIn } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';

/**
 * The budget for undoing a failed start (its slots, its claim): not the start's own deadline, which is often what
 * cut the start short. A claim left held makes every reconcile pass skip the record until the claim expires.
 */
export function undoDeadline(): Deadline {
  return deadlineIn(1000);
}

/** Gives up a claim after a failure, within `undo`, so the record is free for a redelivery or reconcile at once. */
export async function letClaimGo(
  deps: HandlerDeps,
  name: string,
  claim: Claim,
  log: Logger,
  undo: Deadline = undoDeadline(),
): Promise<void> {
  await deps.records.releaseClaim(name, claim, undo).catch((releaseError: unknown) => {
    log.warn({ job: name, err: releaseError }, 'could not release the claim on the runner job');
  });
}
