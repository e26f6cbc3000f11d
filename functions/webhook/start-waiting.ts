import type { RepoRef } from '../../shared/github/github-client.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { type Deadline, deadlineIn } from '../../shared/retry/with-retries.js';
import { DELIVERY_BUDGET_MS } from '../../shared/webhook/delivery-budget.js';
import type { HandlerDeps } from './deps.js';
import { emptySettleReport, settleRecords } from './settle-records.js';

/** Most waiting records one delivery starts besides its own job. */
export const STARTS_PER_DELIVERY = 5;

/**
 * Time a start needs at the least: one is not begun with less of the deadline left. A start cut short after its
 * registration leaves one no pod will use, which the next start must delete and make again (two more POSTs), and
 * the delivery keeps time for its own answer.
 */
const START_MS = 4000;

/**
 * The pass starting waiting records in this instance, if one is under way (by budget: one per instance). One at a
 * time: each lists every record, and during a burst's backlog every delivery would start one (hundreds a second,
 * each a list of thousands of records, a load that slowed the API server and the instance until calls timed out).
 * A delivery finding one under way leaves the starting to it.
 */
const passes = new WeakMap<object, Promise<number>>();

/**
 * Starts records that wait for GitHub, as the budget allows: when this instance has lately seen GitHub's limits
 * (its own budget or a pause) refuse something, so that a backlog is likely, and the credential of the delivery's
 * repository may call now. A burst is thus paced out by the deliveries that follow it (queued ones, and `completed`
 * ones as runners finish) on every instance, each within its own share, not by reconcile alone. Best effort: a
 * failure is logged, never the delivery's.
 */
export async function startWaitingRecords(
  deps: HandlerDeps,
  repo: RepoRef,
  log: Logger,
  deadline: Deadline,
  max = STARTS_PER_DELIVERY,
): Promise<number> {
  const { budget } = deps;
  if (budget === undefined || passes.has(budget)) return 0;
  const refusedAt = budget.lastRefusal();
  if (refusedAt === 0 || (deps.now ?? Date.now)() - refusedAt > 2 * budget.limits.windowMs) return 0;
  const pass = startSome(deps, repo, log, deadline, max).finally(() => passes.delete(budget));
  passes.set(budget, pass);
  return pass;
}

async function startSome(
  deps: HandlerDeps,
  repo: RepoRef,
  log: Logger,
  deadline: Deadline,
  max: number,
): Promise<number> {
  try {
    if ((await deps.github.startBlocked(repo)) !== undefined) return 0;
    const report = emptySettleReport();
    let left = max;
    await settleRecords(
      deps,
      log,
      deadline,
      () => left-- > 0 && Date.now() < deadline.at - START_MS,
      report,
      'anywhere',
    );
    if (report.started > 0)
      log.info({ started: report.started }, 'started runner jobs that waited for GitHub');
    return report.started;
  } catch (error) {
    log.warn({ err: error }, 'could not start runner jobs that wait for GitHub');
    return 0;
  }
}

/** Starts records that wait for GitHub as this instance's budget frees, while a backlog is likely. */
export interface WaitingPacer {
  /** A delivery of this repository was answered `waiting` for GitHub: keep starting waiting records. */
  remember(repo: RepoRef): void;
  stop(): void;
}

/**
 * Paces a backlog out of this instance without waiting for another delivery: after a delivery waits for GitHub,
 * every eighth of the window (7.5 s in a minute) while GitHub's limits keep refusing, it starts the waiting
 * records this instance's budget has room for. Its share frees as its oldest calls leave the sliding window, so a
 * burst drains at the rate GitHub allows, on every instance GitHub's deliveries reached. Timers are unref'd: a
 * process is never kept up for it; what a stopped instance leaves, deliveries and reconcile start.
 */
export function createWaitingPacer(deps: HandlerDeps, log: Logger): WaitingPacer {
  const { budget } = deps;
  let repo: RepoRef | undefined;
  let timer: NodeJS.Timeout | undefined;
  const now = deps.now ?? Date.now;
  const schedule = () => {
    if (timer !== undefined || budget === undefined) return;
    timer = setTimeout(() => void tick(), budget.limits.windowMs / 8);
    timer.unref();
  };
  const tick = async () => {
    timer = undefined;
    if (repo === undefined || budget === undefined) return;
    if (now() - budget.lastRefusal() > 2 * budget.limits.windowMs) {
      repo = undefined;
      return;
    }
    // As many as a window's registrations: the budget stops it sooner when less has freed.
    const starts = Math.max(1, Math.floor(budget.limits.pointsPerMinute / 5));
    await startWaitingRecords(deps, repo, log, deadlineIn(DELIVERY_BUDGET_MS), starts);
    schedule();
  };
  return {
    remember(next) {
      repo = { owner: next.owner, repo: next.repo, installationId: next.installationId };
      schedule();
    },
    stop() {
      clearTimeout(timer);
      timer = undefined;
      repo = undefined;
    },
  };
}
