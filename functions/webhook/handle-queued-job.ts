import { GitHubLimitError, RecordConflictError } from '../../shared/errors/errors.js';
import type { WorkflowJob } from '../../shared/github/github-client.js';
import { sameName } from '../../shared/github/same-name.js';
import { sameLabels } from '../../shared/labels/same-labels.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { chooseProfile } from '../../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import {
  type Claim,
  newClaim,
  type RecordFields,
  runnerJobName,
} from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { WorkflowJobEvent } from '../../shared/webhook/parse-workflow-job.js';
import type { HandlerDeps } from './deps.js';
import { letClaimGo } from './let-claim-go.js';
import type { Outcome } from './outcome.js';
import { releaseFor } from './release-for.js';
import { startIfQueued } from './start-if-queued.js';
import { type StartResult, startRunner } from './start-runner.js';

/** The delivery as the handler sees it. */
export interface Delivery {
  readonly id: string;
  readonly hookId: number | undefined;
}

/**
 * Gives a queued workflow job its runner. Durable first: after matching labels and confirming with GitHub that the
 * job still waits, the job is recorded (queued: its Job, created suspended, with everything needed to start it;
 * the name is the job id, so a repeated delivery or a racing replica meets that record instead of making a
 * second). Then `startRunner` registers the runner, stores its Secret and resumes the Job. Whatever fails after
 * the record exists leaves it queued for a redelivery or `POST /reconcile` to start. That name is one for the whole
 * namespace: a record made from another repository's payload before GitHub confirmed it (`unconfirmed`) gives way
 * to a delivery whose job GitHub confirms, and is never the strength of a 2xx (`supersede`).
 */
export async function handleQueuedJob(
  deps: HandlerDeps,
  event: WorkflowJobEvent,
  delivery: Delivery,
  log: Logger,
  deadline: Deadline,
): Promise<Outcome> {
  const { config, github, records } = deps;
  const now = deps.now ?? Date.now;
  // The payload's labels only spare GitHub a call for a job no profile could serve; the profile (so the pod) is
  // chosen from GitHub's own answer, which a forged or altered payload cannot change. No text of a label reaches
  // the pod spec.
  // A job for a machine no profile places (windows, macOS, two architectures) is ignored the same way, with why.
  const asked = chooseProfile(config.profiles, event.labels);
  if (asked.profile === undefined) return { outcome: 'ignored', reason: asked.reason };
  // GitHub's newest runner release, looked up beside the job's read (a cold process has none yet): never rejects.
  const followed = releaseFor(deps, asked.profile, event);
  // Refused for GitHub's limits, the job is recorded all the same (from the signed payload's labels), and its status
  // read again before its runner is registered: no job depends on a redelivery because GitHub was busy.
  let limited: GitHubLimitError | undefined;
  const job = await github.getJob(event, event.jobId, deadline).catch((error: unknown) => {
    if (!(error instanceof GitHubLimitError)) throw error;
    limited = error;
    return undefined;
  });
  if (job !== undefined && job.status !== 'queued')
    return { outcome: 'ignored', reason: `job is no longer queued (${job.status})` };
  const jobLabels = job?.labels ?? event.labels;
  const { profile, reason } = chooseProfile(config.profiles, jobLabels);
  if (profile === undefined) return { outcome: 'ignored', reason };
  // A payload may omit or misstate `private`: under PUBLIC_REPOSITORIES=deny, GitHub's own answer decides.
  if (config.policy.publicRepositories === 'deny' && (await github.isPublic(event, deadline))) {
    return {
      outcome: 'ignored',
      reason: `repository ${event.owner}/${event.repo} is public and PUBLIC_REPOSITORIES=deny`,
    };
  }

  const name = runnerJobName(event.jobId);
  const claim = newClaim(config.claimTtlSeconds, now());
  const fields = {
    owner: event.owner,
    repo: event.repo,
    jobId: event.jobId,
    // GitHub's answer outranks the payload: its run, and the names that cost attribution shows.
    runId: job?.runId ?? event.runId,
    runAttempt: job?.runAttempt ?? event.runAttempt,
    workflow: job?.workflowName,
    jobName: job?.name,
    deliveryId: delivery.id,
    hookId: delivery.hookId,
    installationId: event.installationId,
    jobLabels,
    // Until GitHub answers for the job, its repository and labels are only the payload's word.
    unconfirmed: job === undefined,
  };
  // The profile chosen from GitHub's labels may be another than the payload's: its own release, then.
  const release = profile === asked.profile ? await followed : await releaseFor(deps, profile, event);
  const record = () =>
    records.createRecord(buildRecordJob(config, profile, fields, claim, name, release), deadline);
  let created = await record();
  let existing: RunnerRecord | undefined;
  if (!created.created) {
    existing = await records.getRecord(name, deadline);
    if (existing !== undefined && isRival(existing, fields)) {
      await supersede(deps, existing, fields, claim, limited, log, deadline);
      created = await record();
      existing = created.created ? undefined : await records.getRecord(name, deadline);
      if (existing !== undefined && isRival(existing, fields))
        throw new RecordConflictError('another payload recorded this job again while it was being replaced');
    }
  }
  if (created.created) {
    // A cancellation that arrived between GitHub's answer above and the record's creation found no record and was
    // answered `ignored`: nothing else would remove this one. Now that the record exists, any later cancellation
    // finds it; ask once more for one that came before.
    let again: WorkflowJob;
    try {
      again = await github.getJob(event, event.jobId, deadline);
    } catch (error) {
      // The record stays, queued, for a redelivery or reconcile: let it go now rather than when the claim expires.
      await letClaimGo(deps, name, claim, log);
      // Durable, then paced: the record waits for GitHub and is started as the budget allows.
      if (error instanceof GitHubLimitError) return { outcome: 'waiting', job: name, reason: error.reason };
      throw error;
    }
    if (again.status !== 'queued') {
      await records.deleteRecord(name, deadline);
      return { outcome: 'ignored', reason: `job is no longer queued (${again.status})` };
    }
    if (job === undefined && !sameLabels(again.labels, jobLabels)) {
      // Recorded from the payload's labels while GitHub was busy, and GitHub's own differ: the profile (so the pod)
      // is only ever chosen from GitHub's answer. Remove it; the job stays GitHub's to route elsewhere.
      await records.deleteRecord(name, deadline);
      log.warn({ job: name }, "the payload's labels differ from GitHub's; record removed");
      return { outcome: 'ignored', reason: "the delivery's labels differ from the job's at GitHub" };
    }
  }

  if (!created.created) {
    // A removed record (a reset under way, or a cancellation) is no record: never a 2xx on its strength.
    if (existing === undefined || existing.state === 'removed') {
      throw new RecordConflictError('the runner job was deleted while this delivery was handled');
    }
    if (existing.state !== 'queued')
      return { outcome: 'exists', job: name, reason: 'runner job already exists' };
    const ours = existing.claim?.id === claim.id;
    if (
      !ours &&
      ((existing.claim?.until ?? 0) > now() || !(await records.claimRecord(existing, claim, deadline)))
    ) {
      return { outcome: 'pending', job: name, reason: 'another delivery is starting this runner' };
    }
    // Our own create that went through although its answer was lost (a retry met it), or a record taken over
    // whose claim lapsed: either way it was not read back after it existed, and a lapsed claim may be a
    // cancellation's mark, left while the record's first starter was cut short. Started on GitHub's word read now.
    if (!ours) log.info({ job: name }, 'taking over an unfinished runner job');
    const check = await startIfQueued(deps, existing, claim, log, deadline);
    if (check.kind === 'limited') return { outcome: 'waiting', job: name, reason: check.reason };
    if (check.kind === 'gone')
      return { outcome: 'ignored', reason: `job is no longer queued (${check.status})` };
    if (check.kind === 'mislabelled')
      return { outcome: 'ignored', reason: "the recorded labels differ from the job's at GitHub" };
    return startOutcome(deps, name, check.result, ours);
  }
  return startOutcome(deps, name, await startRunner(deps, created.record, claim, log, deadline), true);
}

/** The answer for a start: created, or why the runner waits or was cancelled while starting. */
function startOutcome(deps: HandlerDeps, name: string, result: StartResult, recorded: boolean): Outcome {
  if (!result.started) {
    // Counted once a job: by the delivery that recorded it, not by every pass that finds it still waiting.
    if (result.node !== undefined && recorded)
      deps.metrics.runnerJobsWaitingForNode.inc({ os: result.node.os, arch: result.node.arch });
    return { outcome: result.cancelled ? 'cancelled' : 'waiting', job: name, reason: result.reason };
  }
  return { outcome: 'created', job: name, runnerId: result.runner.runnerId };
}

/**
 * A queued record that may be another claim to this delivery's job id: made from a payload before GitHub confirmed
 * it, and for another repository (or installation) or other labels than this delivery's (GitHub's, when it
 * answered). GitHub's job ids are unique, so at most one of the two claims is genuine.
 */
function isRival(existing: RunnerRecord, ours: RecordFields): boolean {
  return (
    existing.state === 'queued' &&
    existing.unconfirmed &&
    !(
      sameName(existing.owner, ours.owner) &&
      sameName(existing.repo, ours.repo) &&
      existing.installationId === ours.installationId &&
      sameLabels(existing.jobLabels, ours.jobLabels)
    )
  );
}

/**
 * Removes a rival record (`isRival`) when GitHub confirmed this delivery's job: GitHub's answer outranks a payload,
 * and a record taken over as it is would be started, or found missing and deleted, through the other repository,
 * leaving the confirmed job with no record after its delivery was answered. Claimed first, so that no pass starts
 * it meanwhile. Throws, so that the delivery fails and is delivered again (reconcile asks GitHub for failed ones),
 * when GitHub confirmed neither claim, or the rival is held: a 2xx must never rest on another payload's record.
 */
async function supersede(
  deps: HandlerDeps,
  rival: RunnerRecord,
  ours: RecordFields,
  claim: Claim,
  limited: GitHubLimitError | undefined,
  log: Logger,
  deadline: Deadline,
): Promise<void> {
  if (ours.unconfirmed) {
    throw new GitHubLimitError(
      `the job is recorded from another payload, and GitHub's limits refused its read (${limited?.reason ?? ''})`,
      limited?.until ?? 0,
      limited?.status,
    );
  }
  const now = (deps.now ?? Date.now)();
  if ((rival.claim?.until ?? 0) > now || !(await deps.records.claimRecord(rival, claim, deadline)))
    throw new RecordConflictError('a record of this job made from another payload is being handled');
  await deps.records.deleteRecord(rival.name, deadline);
  log.warn(
    { job: rival.name, repository: `${rival.owner}/${rival.repo}`, labels: rival.jobLabels },
    "removed a record made from another payload: GitHub confirmed this delivery's job",
  );
}
