import { UpstreamError } from '../../shared/errors/errors.js';
import type { HookDelivery, RepoRef } from '../../shared/github/github-client.js';
import type { RunnerRecord } from '../../shared/kubernetes/runner-record.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { runnerJobName } from '../../shared/modes/build-runner-job.js';
import { type Deadline, deadlineIn } from '../../shared/retry/with-retries.js';
import {
  DELIVERY_BUDGET_MS,
  finishRunner,
  type HandlerDeps,
  newClaim,
  remakeRecord,
  removeRunner,
} from './finish-runner.js';

/** A repository webhook whose deliveries reconcile may look through. */
export interface HookRef extends RepoRef {
  readonly hookId: number;
}

/** What one reconcile pass did, answered to the caller and logged. */
export interface ReconcileReport {
  /** Unfinished records left waiting because a concurrency cap is full. */
  waiting: number;
  /** Runner slots freed because the Job holding them had finished or was gone. */
  slotsFreed: number;
  /** Unfinished records given their runner. */
  finished: number;
  /** Unfinished records whose job no longer waits, removed. */
  removed: number;
  /** Started runner Jobs whose runner never came up within RUNNER_START_TIMEOUT_SECONDS, removed. */
  timedOut: number;
  /** Failed deliveries of queued jobs that GitHub was asked to deliver again. */
  redelivered: number;
  /** Records made again from the mark of a reset that was cut short (see RunnerStore.markReset). */
  restored: number;
  /** Marks of resets that may still be under way, left for a later pass. */
  resetsUnderWay: number;
  /** Records or hooks that could not be handled this time (left for the next pass). */
  failures: number;
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
}

/**
 * One recovery pass, bounded in time and calls: finish or remove unfinished records, remove runners that never
 * started, and ask GitHub to redeliver queued-job deliveries that never got a 2xx. Safe to run concurrently with
 * deliveries and with itself: every record is claimed before it is touched.
 */
export async function reconcile(
  deps: HandlerDeps,
  log: Logger,
  options: ReconcileOptions,
): Promise<ReconcileReport> {
  const now = deps.now ?? Date.now;
  const { budgetMs = 50_000, maxActions = 50, deliveryWindowMs = 3 * 24 * 3600 * 1000 } = options;
  const deadline = deadlineIn(budgetMs);
  const report = emptyReport();
  let actions = 0;
  const spend = (): boolean => {
    if (actions >= maxActions || Date.now() > deadline.at - 1000) {
      report.truncated = true;
      return false;
    }
    actions += 1;
    return true;
  };

  // Resets cut short first, so that the records they make again are finished in this same pass.
  await restoreResets(deps, log, deadline, spend, report);
  const records = await settleRecords(deps, log, deadline, spend, report);

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
  const since = new Date(now() - deliveryWindowMs).toISOString().replace(/\.\d+Z$/, 'Z');
  const sources: DeliverySource[] = [...hooks.values()].map((hook) => ({
    where: { hook: hook.hookId, repo: `${hook.owner}/${hook.repo}` },
    list: () => deps.github.listDeliveries(hook, hook.hookId, since, deadline),
    redeliver: (id) => deps.github.redeliver(hook, hook.hookId, id, deadline),
  }));
  if (deps.github.hasAppHook) {
    sources.push({
      where: { hook: 'app' },
      list: () => deps.github.listAppDeliveries(since, deadline),
      redeliver: (id) => deps.github.redeliverApp(id, deadline),
    });
  }
  for (const source of sources) {
    if (report.truncated) break;
    try {
      await redeliverFailed(source, spend, report, log);
    } catch (error) {
      report.failures += 1;
      log.warn({ ...source.where, err: error }, 'could not check webhook deliveries');
    }
  }
  return report;
}

export function emptyReport(): ReconcileReport {
  return {
    waiting: 0,
    slotsFreed: 0,
    finished: 0,
    removed: 0,
    timedOut: 0,
    redelivered: 0,
    restored: 0,
    resetsUnderWay: 0,
    failures: 0,
    truncated: false,
  };
}

/** A reset is done by one delivery, within its budget; a mark older than this belongs to one that was cut short. */
const RESET_GRACE_MS = 2 * DELIVERY_BUDGET_MS;

/** Makes again the records whose reset was cut short, and clears the marks of resets that are done. */
async function restoreResets(
  deps: HandlerDeps,
  log: Logger,
  deadline: Deadline,
  spend: () => boolean,
  report: ReconcileReport,
) {
  const now = deps.now ?? Date.now;
  for (const mark of await deps.runners.listResetMarks(deadline)) {
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
      await deps.runners.clearResetMark(mark.fields.jobId, deadline);
    } catch (error) {
      report.failures += 1;
      log.warn({ job: name, err: error }, 'could not restore a reset runner job');
    }
  }
}

/**
 * The record phase of reconcile, also run when a runner finishes (a slot may have opened): frees slots whose
 * holder finished, then, oldest first, finishes or removes unclaimed records and removes runners that never started.
 * Returns the records it read.
 */
export async function settleRecords(
  deps: HandlerDeps,
  log: Logger,
  deadline: Deadline,
  spend: () => boolean,
  report: ReconcileReport,
): Promise<RunnerRecord[]> {
  const now = deps.now ?? Date.now;
  const records = (await deps.runners.listRecords(deadline)).sort((a, b) => a.createdAt - b.createdAt);
  const live = new Set(records.filter((record) => !record.finished).map((record) => record.name));
  for (const slot of await deps.runners.listSlots(deadline)) {
    if (live.has(slot.holder)) continue;
    await deps.runners.releaseSlots(slot.holder, deadline);
    report.slotsFreed += 1;
  }
  const startTimeoutMs = deps.config.runnerStartTimeoutSeconds * 1000;
  for (const record of records) {
    // Finished records are done; records going away (a reset or a removal under way) are not to build on.
    if (record.finished || record.deleting) continue;
    const unclaimed = (record.claim?.until ?? 0) <= now();
    const stuck = !record.suspended && record.ready === 0 && now() - record.createdAt > startTimeoutMs;
    if (!(record.suspended ? unclaimed : stuck)) continue;
    if (!spend()) break;
    try {
      if (record.suspended) await settleRecord(deps, record, log, deadline, report);
      else if (await removeRunner(deps, record, deadline)) {
        report.timedOut += 1;
        log.warn({ job: record.name }, 'removed a runner job that never started');
      }
    } catch (error) {
      report.failures += 1;
      log.warn({ job: record.name, err: error }, 'could not reconcile a runner job');
    }
  }
  return records;
}

/** A suspended record nobody holds: give it its runner if its job still waits, else remove it. */
async function settleRecord(
  deps: HandlerDeps,
  record: RunnerRecord,
  log: Logger,
  deadline: Deadline,
  report: ReconcileReport,
) {
  if (!(await deps.runners.claim(record, newClaim(deps), deadline))) return;
  let status: string;
  try {
    status = await deps.github.getJobStatus(record, record.jobId, deadline);
  } catch (error) {
    if (!(error instanceof UpstreamError && error.status === 404)) throw error;
    status = 'missing';
  }
  if (status === 'queued') {
    const result = await finishRunner(deps, record, log, deadline);
    if (result.started) {
      report.finished += 1;
      log.info({ job: record.name }, 'started a waiting or interrupted runner job');
    } else {
      report.waiting += 1;
    }
  } else if (await removeRunner(deps, record, deadline)) {
    report.removed += 1;
    log.info({ job: record.name, status }, 'removed a runner job whose job no longer waits');
  }
}

/** A webhook whose deliveries reconcile looks through: a repository's, or the GitHub App's own. */
interface DeliverySource {
  /** For the log. */
  readonly where: Record<string, unknown>;
  list(): Promise<HookDelivery[]>;
  redeliver(deliveryId: number): Promise<void>;
}

/** Redelivers queued-job deliveries that no attempt answered with a 2xx. */
async function redeliverFailed(
  source: DeliverySource,
  spend: () => boolean,
  report: ReconcileReport,
  log: Logger,
) {
  const deliveries = await source.list();
  const byGuid = new Map<string, HookDelivery[]>();
  for (const delivery of deliveries) {
    if (delivery.event !== 'workflow_job' || delivery.action !== 'queued') continue;
    byGuid.set(delivery.guid, [...(byGuid.get(delivery.guid) ?? []), delivery]);
  }
  for (const [guid, attempts] of byGuid) {
    // Status 0 or none: still in flight or never answered; a 2xx: handled. Only GUIDs with no 2xx at all.
    if (attempts.some((attempt) => attempt.statusCode >= 200 && attempt.statusCode < 300)) continue;
    const latest = attempts[0];
    if (latest === undefined || !spend()) return;
    await source.redeliver(latest.id);
    report.redelivered += 1;
    log.info({ guid, ...source.where }, 'asked GitHub to redeliver a failed delivery');
  }
}
