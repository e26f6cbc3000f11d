import { GitHubLimitError } from '../../shared/errors/errors.js';
import type { WorkflowJob } from '../../shared/github/github-client.js';
import { sameLabels } from '../../shared/labels/same-labels.js';
import type { Logger } from '../../shared/log/create-logger.js';
import type { Claim } from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { jobAtGitHub } from './job-at-github.js';
import { letClaimGo } from './let-claim-go.js';
import { removeRunner } from './remove-runner.js';
import { type StartResult, startRunner } from './start-runner.js';

/** What became of a claimed record once GitHub was asked whether its job still waits. */
export type QueuedCheck =
  | { readonly kind: 'start'; readonly result: StartResult }
  /** The job no longer waits: the record was removed (unless its runner is busy with another job). */
  | { readonly kind: 'gone'; readonly status: string; readonly removed: boolean }
  /**
   * GitHub holds other labels for the job than the record, made from a payload: never started from them, the record
   * was removed (unless its runner is busy with another job). A genuine delivery carries GitHub's labels and is never
   * answered 2xx on such a record (`handleQueuedJob` replaces it, or fails to be delivered again).
   */
  | { readonly kind: 'mislabelled'; readonly removed: boolean }
  /** GitHub's limits refused the read: the record waits, its claim let go. */
  | { readonly kind: 'limited'; readonly reason: string };

/**
 * Starts the runner of a queued record this process has just claimed, on GitHub's word read now, after the claim:
 * a record found rather than made by the caller (reconcile, or a delivery taking over a record whose claim lapsed)
 * may be one a cancellation marked while its first starter was cut short, and a cancellation's mark looks like a
 * lapsed claim. A cancellation arriving after the claim finds it live and marks it; the conditional start then fails.
 */
export async function startIfQueued(
  deps: HandlerDeps,
  record: RunnerRecord,
  claim: Claim,
  log: Logger,
  deadline: Deadline,
): Promise<QueuedCheck> {
  let job: WorkflowJob | undefined;
  try {
    job = await jobAtGitHub(deps, record, deadline);
  } catch (error) {
    // Let the claim go at once: held, it would make every pass skip the record until it expires.
    await letClaimGo(deps, record.name, claim, log);
    if (error instanceof GitHubLimitError) return { kind: 'limited', reason: error.reason };
    throw error;
  }
  if (job?.status !== 'queued')
    return {
      kind: 'gone',
      status: job?.status ?? 'missing',
      removed: await removeRunner(deps, record, deadline),
    };
  // The labels too, not the status alone: the profile (so the pod) and the registration's labels are GitHub's.
  if (!sameLabels(job.labels, record.jobLabels)) {
    log.warn({ job: record.name }, "the record's labels differ from GitHub's; never started from them");
    return { kind: 'mislabelled', removed: await removeRunner(deps, record, deadline) };
  }
  return { kind: 'start', result: await startRunner(deps, record, claim, log, deadline) };
}
