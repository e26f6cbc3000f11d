import type { DeliveryList, HookDelivery } from '../../shared/github/github-client.js';
import type { Logger } from '../../shared/log/create-logger.js';

/** A webhook whose deliveries reconcile looks through: a repository's, or the GitHub App's own. */
export interface DeliverySource {
  /** For the log. */
  readonly where: Record<string, unknown>;
  /** Names the webhook's delivery mark: `owner/repo#hook`, or `app`. */
  readonly key: string;
  /**
   * Its deliveries back to `since`, newest first, from the page of cursor `from` (the newest when undefined);
   * `more` is asked before each page after the first.
   */
  list(since: string, more: () => boolean, from?: string): Promise<DeliveryList>;
  redeliver(deliveryId: number): Promise<void>;
}

const REDELIVERED = new Set(['queued', 'in_progress', 'completed']);

/**
 * Asks GitHub to deliver again the `queued`, `in_progress` and `completed` deliveries of a source that no attempt
 * answered with a 2xx: a lost `queued` one leaves a job without a runner, a lost `in_progress` one may leave a job
 * whose runner another job took without a replacement, a lost `completed` one (a cancellation) a runner without a
 * job. A `queued` delivery whose job is already recorded (`recorded`: the GUIDs records were made from) is not
 * redelivered: the record is finished from itself (settling), and a redelivery would only cost GitHub's points
 * to be answered `exists` or `waiting`. Returns false when `spend` stopped it before every failed delivery was asked
 * for again.
 */
export async function redeliverFailed(
  deliveries: readonly HookDelivery[],
  source: DeliverySource,
  spend: () => boolean,
  report: { redelivered: number },
  log: Logger,
  recorded: ReadonlySet<string> = new Set(),
): Promise<boolean> {
  const byGuid = new Map<string, HookDelivery[]>();
  for (const delivery of deliveries) {
    if (delivery.event !== 'workflow_job' || !REDELIVERED.has(delivery.action ?? '')) continue;
    byGuid.set(delivery.guid, [...(byGuid.get(delivery.guid) ?? []), delivery]);
  }
  for (const [guid, attempts] of byGuid) {
    // Status 0 or none: still in flight or never answered; a 2xx: handled. Only GUIDs with no 2xx at all.
    if (attempts.some((attempt) => attempt.statusCode >= 200 && attempt.statusCode < 300)) continue;
    const latest = attempts[0];
    if (latest === undefined || (latest.action === 'queued' && recorded.has(guid))) continue;
    if (!spend()) return false;
    await source.redeliver(latest.id);
    report.redelivered += 1;
    log.info({ guid, ...source.where }, 'asked GitHub to redeliver a failed delivery');
  }
  return true;
}
