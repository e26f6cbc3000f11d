import type { Config } from '../../shared/config/load-config.js';
import type { GitHubClient } from '../../shared/github/github-client.js';
import type { RunnerStore } from '../../shared/kubernetes/runner-store.js';
import { matchLabels } from '../../shared/labels/label-matchers.js';
import type { Logger } from '../../shared/log/create-logger.js';
import type { Metrics } from '../../shared/metrics/create-metrics.js';
import { buildJitSecret } from '../../shared/modes/build-jit-secret.js';
import { buildRunnerJob, runnerJobName, runnerLabels } from '../../shared/modes/build-runner-job.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';

/** What the handler is built from. Every client is injected. */
export interface HandlerDeps {
  readonly config: Config;
  readonly github: GitHubClient;
  readonly runners: RunnerStore;
  readonly metrics: Metrics;
}

/** What became of one delivery, answered to GitHub and logged. */
export type Outcome =
  | { readonly outcome: 'created'; readonly job: string; readonly runnerId: number }
  | { readonly outcome: 'exists'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'ignored'; readonly reason: string };

/** The runner's working folder, relative to its install directory (GitHub's default). */
const WORK_FOLDER = '_work';

/**
 * Gives a queued workflow job its runner: match labels, confirm with GitHub that the job still waits, claim the
 * job by creating its Job suspended (the name is the job id, so a second delivery or a racing replica gets a 409
 * and stops there), register a JIT runner, store its config in a Secret owned by the Job, and resume the Job.
 * Resolves only once the Job exists; a failure after the claim deletes the claim, so a redelivery starts clean.
 */
export async function handleQueuedJob(
  deps: HandlerDeps,
  event: WorkflowJobEvent,
  deliveryId: string,
  log: Logger,
): Promise<Outcome> {
  const { config, github, runners, metrics } = deps;
  if (!matchLabels(event.labels, config.labelMatchers)) {
    return { outcome: 'ignored', reason: 'job labels do not match' };
  }
  const repo = { owner: event.owner, repo: event.repo };
  const status = await github.getJobStatus(repo, event.jobId);
  if (status !== 'queued') return { outcome: 'ignored', reason: `job is no longer queued (${status})` };

  const job = buildRunnerJob({
    mode: config.runnerMode,
    runnerImage: config.runnerImage,
    dindImage: config.dindImage,
    namespace: config.namespace,
    ttlSecondsAfterFinished: config.jobTtlSeconds,
    secretName: runnerJobName(event.jobId),
    owner: event.owner,
    repo: event.repo,
    jobId: event.jobId,
    runId: event.runId,
    runAttempt: event.runAttempt,
    deliveryId,
    suspend: true,
  });
  const name = runnerJobName(event.jobId);
  const claim = await runners.createJob(job);
  if (!claim.created) return { outcome: 'exists', job: name, reason: 'runner job already exists' };

  try {
    const runner = await github.generateJitConfig(repo, {
      name,
      runnerGroupId: config.runnerGroupId,
      labels: event.labels,
      workFolder: WORK_FOLDER,
    });
    await runners.createSecret(
      buildJitSecret({
        namespace: config.namespace,
        job: { name, uid: claim.uid },
        labels: runnerLabels(event),
        encodedJitConfig: runner.encodedJitConfig,
      }),
    );
    await runners.resumeJob(name);
    metrics.runnerJobsCreated.inc({ owner: event.owner, repo: event.repo });
    return { outcome: 'created', job: name, runnerId: runner.runnerId };
  } catch (error) {
    await runners.deleteJob(name).catch((cleanupError: unknown) => {
      log.warn({ job: name, err: cleanupError }, 'could not delete the unfinished runner job');
    });
    throw error;
  }
}
