/**
 * Reconcile as a task of its own: what the reconcile CronJob's pod runs (`node /app/start.cjs reconcile`, the
 * function's own image, ServiceAccount and Secret), instead of a POST to the Service. A request to the Service,
 * however rare, keeps Knative's autoscaler from scaling it to zero for a stable window (60 s) and a grace period;
 * a pod of its own costs the Service nothing, so an idle install gets no request between deliveries.
 *
 * The task does a full pass (restore resets, settle records, redeliver failed deliveries, sweep idle runners),
 * then goes on only while there is work: at once while a pass answers truncated (its time or action budget ran out
 * with work left), and every `pauseMs` with a records-only pass while records wait (for GitHub's limits, a cap or
 * a node), until `runForMs` is spent. So an idle run is one pass and an exit; a backlog is drained at the rate
 * GitHub's limits allow, by this pod, until the next scheduled run takes over.
 */

import type { Logger } from '../../shared/log/create-logger.js';
import type { HandlerDeps } from './deps.js';
import type { HookRef, ReconcileReport } from './reconcile.js';
import { reconcile } from './reconcile.js';

export interface ReconcileTaskOptions {
  readonly hooks: readonly HookRef[];
  /** Time for one pass (RECONCILE_BUDGET_SECONDS). */
  readonly budgetMs: number;
  /** How long the task may go on while work is left; under the CronJob's period, so runs never overlap. */
  readonly runForMs: number;
  /** The wait between records-only passes while records wait and no pass was cut short. */
  readonly pauseMs: number;
  /** Asked before each pass: false once the process is told to stop (SIGTERM). */
  readonly running?: () => boolean;
  readonly sleep?: (ms: number) => Promise<void>;
}

/** What the task did: the passes it ran, and whether it left work for the next run. */
export interface ReconcileTaskReport {
  passes: number;
  /** Records still waiting, or a pass cut short, when the task stopped. */
  workLeft: boolean;
  /** Passes that could not do all they tried (a failure left for the next pass). */
  failures: number;
}

const defaultSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export async function runReconcileTask(
  deps: HandlerDeps,
  log: Logger,
  options: ReconcileTaskOptions,
): Promise<ReconcileTaskReport> {
  const { sleep = defaultSleep, running = () => true } = options;
  const until = Date.now() + options.runForMs;
  const task: ReconcileTaskReport = { passes: 0, workLeft: false, failures: 0 };
  let scope: 'all' | 'records' = 'all';
  for (;;) {
    const report: ReconcileReport = await reconcile(deps, log, {
      hooks: options.hooks,
      budgetMs: options.budgetMs,
      scope,
    });
    task.passes += 1;
    if (report.failures > 0) task.failures += 1;
    log.info({ ...report, pass: task.passes, scope }, 'reconcile done');
    task.workLeft = report.truncated || report.waiting > 0;
    if (!task.workLeft || !running()) return task;
    // A pass cut short goes on at once, in the same scope (a full pass cut short has deliveries left to look
    // through); records that wait are tried again after a pause, records only: nothing else changed meanwhile.
    const pause = report.truncated ? 0 : options.pauseMs;
    if (Date.now() + pause + options.budgetMs > until) return task;
    if (!report.truncated) scope = 'records';
    if (pause > 0) await sleep(pause);
    if (!running()) return task;
  }
}
