import type { Metrics } from '../../shared/metrics/create-metrics.js';
import { type RunnerProfile, selectProfile } from '../../shared/profiles/runner-profile.js';
import { jobIdOfRunner } from '../../shared/records/record-schema.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';

/**
 * Observes GitHub's own times of a job of our profiles, once its delivery has been handled: an `in_progress`
 * delivery gives its time in queue (`started_at - created_at`), a `completed` one its time running
 * (`completed_at - started_at`) and its conclusion. Only for a runner we made (`runner-<job id>`), or, for a
 * conclusion, a job that ended before any runner took it (cancelled while queued). Called only after the handler
 * succeeded: a failed delivery is delivered again, and counted then, once.
 */
export function observeJob(
  metrics: Pick<Metrics, 'jobQueued' | 'jobRunning' | 'jobsCompleted'>,
  profiles: readonly RunnerProfile[],
  job: WorkflowJobEvent,
): void {
  const ours = job.runnerName !== null && jobIdOfRunner(job.runnerName) !== undefined;
  if (!ours && job.runnerId !== null) return;
  const profile = selectProfile(profiles, job.labels)?.name;
  if (profile === undefined) return;
  const series = { profile, owner: job.owner, repo: job.repo };
  const { createdAt, startedAt, completedAt } = job.times;
  if (job.action === 'in_progress' && ours) {
    const seconds = secondsBetween(createdAt, startedAt);
    if (seconds !== undefined) metrics.jobQueued.observe(series, seconds);
  } else if (job.action === 'completed') {
    const seconds = ours ? secondsBetween(startedAt, completedAt) : undefined;
    if (seconds !== undefined) metrics.jobRunning.observe(series, seconds);
    metrics.jobsCompleted.inc({ ...series, conclusion: job.conclusion ?? 'other' });
  }
}

/** Seconds from one of GitHub's times to a later one; undefined when either is missing or they are out of order. */
function secondsBetween(from: number | undefined, to: number | undefined): number | undefined {
  if (from === undefined || to === undefined || to < from) return undefined;
  return (to - from) / 1000;
}
