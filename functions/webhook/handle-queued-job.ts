import { UpstreamError } from '../../shared/errors/errors.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { runnerJobName } from '../../shared/modes/build-runner-job.js';
import { selectProfile } from '../../shared/profiles/runner-profile.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';
import { buildRecordJob, finishRunner, type HandlerDeps, newClaim } from './finish-runner.js';

export type { HandlerDeps } from './finish-runner.js';

/** What became of one delivery, answered to GitHub and logged. */
export type Outcome =
  | { readonly outcome: 'created'; readonly job: string; readonly runnerId: number }
  | { readonly outcome: 'exists'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'pending'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'waiting'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'cancelled'; readonly job: string; readonly reason: string }
  | { readonly outcome: 'ignored'; readonly reason: string };

/** The delivery as the handler sees it. */
export interface Delivery {
  readonly id: string;
  readonly hookId: number | undefined;
}

/**
 * Gives a queued workflow job its runner. Durable first: after matching labels and confirming with GitHub that the
 * job still waits, the job is recorded as its Job, created suspended with everything needed to finish it (the
 * name is the job id, so a repeated delivery or a racing replica meets that record instead of making a second).
 * Then the runner is registered, its Secret stored, and the Job resumed. Whatever fails after the record exists
 * leaves it for a redelivery or `POST /reconcile` to finish.
 */
export async function handleQueuedJob(
  deps: HandlerDeps,
  event: WorkflowJobEvent,
  delivery: Delivery,
  log: Logger,
  deadline: Deadline,
): Promise<Outcome> {
  const { config, github, runners } = deps;
  const now = deps.now ?? Date.now;
  // The labels choose a profile, and nothing else: no text of theirs reaches the pod spec.
  const profile = selectProfile(config.profiles, event.labels);
  if (profile === undefined) return { outcome: 'ignored', reason: 'job labels do not match' };
  const status = await github.getJobStatus(event, event.jobId, deadline);
  if (status !== 'queued') return { outcome: 'ignored', reason: `job is no longer queued (${status})` };

  const name = runnerJobName(event.jobId);
  const claim = newClaim(deps);
  const created = await runners.createJob(
    buildRecordJob(
      config,
      profile,
      {
        owner: event.owner,
        repo: event.repo,
        jobId: event.jobId,
        runId: event.runId,
        runAttempt: event.runAttempt,
        deliveryId: delivery.id,
        hookId: delivery.hookId,
        installationId: event.installationId,
        jobLabels: event.labels,
      },
      claim,
    ),
    deadline,
  );

  let record = created.created ? created.record : undefined;
  if (record === undefined) {
    const existing = await runners.getRecord(name, deadline);
    // A record going away (a reset under way, or a cancellation) is no record: never a 2xx on its strength.
    if (existing === undefined || existing.deleting) {
      throw new UpstreamError(
        'kubernetes',
        'the runner job was deleted while this delivery was handled',
        409,
      );
    }
    if (!existing.suspended) return { outcome: 'exists', job: name, reason: 'runner job already exists' };
    if (existing.claim?.id === claim.id) {
      // Our own create went through although its answer was lost, and a retry met it.
      record = existing;
    } else if ((existing.claim?.until ?? 0) > now() || !(await runners.claim(existing, claim, deadline))) {
      return { outcome: 'pending', job: name, reason: 'another delivery is starting this runner' };
    } else {
      log.info({ job: name }, 'taking over an unfinished runner job');
      record = existing;
    }
  }
  const result = await finishRunner(deps, record, log, deadline);
  if (!result.started) return { outcome: 'waiting', job: name, reason: result.reason };
  return { outcome: 'created', job: name, runnerId: result.runner.runnerId };
}
