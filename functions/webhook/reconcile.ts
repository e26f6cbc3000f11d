import { shuffled } from '../../shared/collections/shuffled.js';
import { PermanentUpstreamError } from '../../shared/errors/errors.js';
import type { DeliveryList, RepoRef } from '../../shared/github/github-client.js';
import type { Logger } from '../../shared/log/create-logger.js';
import type { DeliveryMark } from '../../shared/records/record-store.js';
import { type Deadline, deadlineIn } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { type DeliverySource, redeliverFailed } from './redeliver-failed.js';
import { type IdleReport, removeIdleRunners } from './remove-idle-runners.js';
import { reportRunnerDeadlines } from './report-runner-deadlines.js';
import { type RestoreReport, restoreResets } from './restore-resets.js';
import { emptySettleReport, type SettleReport, settleRecords } from './settle-records.js';

/** A repository webhook whose deliveries reconcile may look through. */
export interface HookRef extends RepoRef {
  readonly hookId: number;
}

/** What one reconcile pass did, answered to the caller and logged. */
export interface ReconcileReport extends SettleReport, RestoreReport, IdleReport {
  /** Failed deliveries of queued jobs that GitHub was asked to deliver again. */
  redelivered: number;
  /** True when the time or call budget ran out before everything was looked at. */
  truncated: boolean;
}

export interface ReconcileOptions {
  readonly hooks: readonly HookRef[];
  /** Total time for the pass. */
  readonly budgetMs?: number;
  /** Most records and most redeliveries handled in one pass (an API budget). */
  readonly maxActions?: number;
  /** How far back to look for failed deliveries; GitHub lets a delivery be redelivered for 3 days. */
  readonly deliveryWindowMs?: number;
  /**
   * `records`: settle the records only (start those waiting, as GitHub's budget allows), without looking through
   * deliveries or sweeping idle runners: the cheap pass called every minute while a backlog exists.
   */
  readonly scope?: 'all' | 'records';
}

/**
 * One recovery pass, bounded in time and calls: make again records whose reset was cut short, start or remove
 * queued records nobody holds, remove runners that never came up, remove idle runners whose job went elsewhere
 * and registrations left without a record, and ask GitHub to redeliver queued-job deliveries that never got a 2xx. Safe to run concurrently with
 * deliveries and with itself: every record is claimed before it is touched.
 */
export async function reconcile(
  deps: HandlerDeps,
  log: Logger,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const now = deps.now ?? Date.now;
  const { budgetMs = 7000, maxActions = 50, deliveryWindowMs = 3 * 24 * 3600 * 1000 } = options;
  const deadline = deadlineIn(budgetMs);
  const report: ReconcileReport = {
    ...emptySettleReport(),
    restored: 0,
    resetsUnderWay: 0,
    surplus: 0,
    orphans: 0,
    replaced: 0,
    redelivered: 0,
    truncated: false,
  };
  let actions = 0;
  const spend = (): boolean => {
    if (actions >= maxActions || Date.now() > deadline.at - 1000) {
      report.truncated = true;
      return false;
    }
    actions += 1;
    return true;
  };
  // The budget's last second is left to the action under way, but on a loaded machine that may not be enough: an
  // action the deadline cut short (even the last one) is work left, so the caller must call again.
  const cutShort = () => {
    if (Date.now() >= deadline.at) report.truncated = true;
  };

  // A full pass reports how far each pinned profile is from GitHub's deadline for its runner version, beside the
  // rest of the pass (its GitHub reads wait ~2 s at most, and most passes find them read within the hour).
  const deadlines = options.scope === 'records' ? undefined : reportRunnerDeadlines(deps);
  // Resets cut short first, so that the records they make again are started in this same pass.
  await restoreResets(deps, log, deadline, spend, report);
  const records = await settleRecords(deps, log, deadline, spend, report);
  cutShort();
  if (deadlines === undefined) return report;

  // Repository hooks named in the configuration, and those that delivered the jobs still recorded. A record
  // with an installation came through the GitHub App's own webhook, which is looked at below.
  const hooks = new Map<string, HookRef>();
  for (const hook of options.hooks) hooks.set(`${hook.owner}/${hook.repo}#${hook.hookId}`, hook);
  for (const record of records) {
    if (record.hookId !== undefined && record.installationId === undefined) {
      hooks.set(`${record.owner}/${record.repo}#${record.hookId}`, {
        owner: record.owner,
        repo: record.repo,
        hookId: record.hookId,
      });
    }
  }
  // Deliveries whose job has a record: finished from the record, never redelivered.
  const recordedDeliveries = new Set(records.map((record) => record.deliveryId));
  const since = new Date(now() - deliveryWindowMs).toISOString().replace(/\.\d+Z$/, 'Z');
  const sources: DeliverySource[] = [...hooks.values()].map((hook) => ({
    where: { hook: hook.hookId, repo: `${hook.owner}/${hook.repo}` },
    key: `${hook.owner}/${hook.repo}#${hook.hookId}`.toLowerCase(),
    list: (since, more, from) => deps.github.listDeliveries(hook, hook.hookId, since, deadline, more, from),
    redeliver: (id) => deps.github.redeliver(hook, hook.hookId, id, deadline),
  }));
  if (deps.github.hasAppHook) {
    sources.push({
      where: { hook: 'app' },
      key: 'app',
      list: (since, more, from) => deps.github.listAppDeliveries(since, deadline, more, from),
      redeliver: (id) => deps.github.redeliverApp(id, deadline),
    });
  }
  // In a random order: a hook with a backlog of pages must not keep the others waiting pass after pass.
  for (const source of shuffled(sources)) {
    if (report.truncated) break;
    try {
      await lookThrough(deps, source, since, spend, report, log, recordedDeliveries, deadline);
    } catch (error) {
      report.failures += 1;
      log.warn({ ...source.where, err: error }, 'could not check webhook deliveries');
    }
  }
  cutShort();
  // Last, with what is left of the budget: a sweep, never the reason to call again (it does not set truncated).
  if (!report.truncated) {
    let idleActions = maxActions - actions;
    const spendIdle = () => idleActions-- > 0 && Date.now() < deadline.at - 1000;
    await removeIdleRunners(deps, records, options.hooks, log, deadline, spendIdle, report);
  }
  await deadlines;
  return report;
}

/**
 * GitHub's clock less this, for a delivery mark: a delivery made shortly before the newest one listed may still be
 * waiting for its answer (GitHub waits 10 s), and is listed again by the next pass.
 */
const MARK_MARGIN_MS = 5 * 60_000;

/**
 * Looks through one webhook's deliveries back to its mark (or the whole window when it has none, or it cannot be
 * read) and asks for the failed ones again. Pages are read for at most half of what is left of the pass, so that
 * there is time to ask for what they hold; a look that needs more pages than that goes on at the next pass from
 * the cursor where it stopped (kept with the mark), so that no failed delivery is ever out of reach. Once a look
 * has reached the mark, with every failed delivery asked for, the mark moves to the newest delivery's time when the
 * look began (GitHub's clock) less a margin. A matrix burst's thousands of deliveries are so read once, in as many
 * passes as they need, and a later pass reads only what is new.
 */
async function lookThrough(
  deps: HandlerDeps,
  source: DeliverySource,
  since: string,
  spend: () => boolean,
  report: ReconcileReport,
  log: Logger,
  recorded: ReadonlySet<string>,
  deadline: Deadline,
): Promise<void> {
  const mark = await deps.records.readDeliveryMark(source.key, deadline).catch((error: unknown) => {
    log.warn(
      { ...source.where, err: error },
      'could not read the delivery mark; looking through the whole window',
    );
    return undefined;
  });
  const floor = mark?.since !== undefined && mark.since > since ? mark.since : since;
  const pagesUntil = Date.now() + Math.max(0, deadline.at - 1000 - Date.now()) / 2;
  const more = () => Date.now() < pagesUntil;
  let scan = mark?.scan;
  let list: DeliveryList;
  try {
    list = await source.list(floor, more, scan?.cursor);
  } catch (error) {
    // A cursor GitHub no longer takes: start the look again from the newest page.
    if (scan === undefined || !(error instanceof PermanentUpstreamError)) throw error;
    scan = undefined;
    list = await source.list(floor, more);
  }
  // Redeliveries cut short by the pass's budget: the same pages are read again next time, nothing moves.
  if (!(await redeliverFailed(list.deliveries, source, spend, report, log, recorded))) return;
  const top = scan?.top ?? list.deliveries[0]?.deliveredAt;
  if (top === undefined) return;
  const next: DeliveryMark = list.complete
    ? { since: new Date(Date.parse(top) - MARK_MARGIN_MS).toISOString().replace(/\.\d+Z$/, 'Z') }
    : {
        ...(mark?.since ? { since: mark.since } : {}),
        ...(list.next ? { scan: { cursor: list.next, top } } : {}),
      };
  await deps.records.writeDeliveryMark(source.key, next, deadline).catch((error: unknown) => {
    log.warn({ ...source.where, err: error }, 'could not write the delivery mark');
  });
}
