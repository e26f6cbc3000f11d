import type { V1Job } from '@kubernetes/client-node';
import { RUNNER_CONTAINER, VERSION_DEPRECATED_EXIT_CODE } from '../modes/runner-pod.js';
import {
  type Claim,
  LABEL_PREFIX,
  parseClaim,
  RECORD_ANNOTATIONS,
  type RecordFields,
} from './record-schema.js';

/**
 * The states of a record, named once. Every transition is a method of `RecordStore`, documented there.
 *
 *   (none) --createRecord--> queued --startRecord--> started --(the runner exits; Kubernetes)--> finished
 *   queued | started --deleteRecord--> removed        (job no longer waits, cancelled, or never came up)
 *   queued --reset: markReset, deleteRecord, createRecord--> queued   (an interrupted attempt left a stale Secret)
 *
 * - `queued`: the Job is suspended. The job is recorded; its runner is not registered, or not started yet. A claim
 *   says who is starting it; a queued record nobody holds is started (or removed) by a delivery or by reconcile.
 * - `started`: the Job was resumed with its JIT Secret: its pod runs the runner.
 * - `finished`: the Job is Complete or Failed; the TTL controller deletes it later.
 * - `removed`: the Job is being deleted (deletionTimestamp set): no record to build on, and never a 2xx on its
 *   strength.
 */
export type RecordState = 'queued' | 'started' | 'finished' | 'removed';

/** A runner Job read back from the API server: the record of one workflow job. */
export interface RunnerRecord extends RecordFields {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  readonly state: RecordState;
  /** Pods of the Job that are ready: a started runner that came up. */
  readonly ready: number;
  /** The Job failed (its Failed condition): the runner exited with an error, its pod was lost, or its deadline passed. */
  readonly failed: boolean;
  readonly createdAt: number;
  /** When it was started (ms since epoch); undefined while queued, and for records of older versions. */
  readonly startedAt: number | undefined;
  readonly claim: Claim | undefined;
  /** Made from its delivery's payload before GitHub confirmed the job (`RecordFields.unconfirmed`). */
  readonly unconfirmed: boolean;
  /** The runner profile its pod was built from (the Job's `profile` label); undefined on records of older versions. */
  readonly profile: string | undefined;
  /** The image of the pod's runner container, as the Job was made. */
  readonly runnerImage: string | undefined;
  /** The Job failed because GitHub refused its runner's version: the runner exited 7 (`isOutdatedFailure`). */
  readonly outdated: boolean;
  /** Reconcile has written down (and counted) why: the `outdated` annotation. */
  readonly outdatedNoted: boolean;
}

/** Reads a runner Job as a record; `undefined` for a Job that lacks what a record needs. */
export function toRunnerRecord(job: V1Job): RunnerRecord | undefined {
  const annotations = job.metadata?.annotations ?? {};
  const [owner, repo] = (annotations[RECORD_ANNOTATIONS.repository] ?? '').split('/');
  const jobId = Number(job.metadata?.labels?.[`${LABEL_PREFIX}/job-id`]);
  if (!job.metadata?.name || !owner || !repo || !Number.isSafeInteger(jobId)) return undefined;
  let jobLabels: string[] = [];
  try {
    const parsed: unknown = JSON.parse(annotations[RECORD_ANNOTATIONS.jobLabels] ?? '[]');
    if (Array.isArray(parsed))
      jobLabels = parsed.filter((label): label is string => typeof label === 'string');
  } catch {
    jobLabels = [];
  }
  const hookId = Number(annotations[RECORD_ANNOTATIONS.hook]);
  const installationId = Number(annotations[RECORD_ANNOTATIONS.installation]);
  const created = job.metadata.creationTimestamp;
  return {
    name: job.metadata.name,
    uid: job.metadata.uid ?? '',
    resourceVersion: job.metadata.resourceVersion ?? '',
    owner,
    repo,
    jobId,
    runId: Number(annotations[RECORD_ANNOTATIONS.runId]) || 0,
    runAttempt: Number(annotations[RECORD_ANNOTATIONS.runAttempt]) || 1,
    deliveryId: annotations[RECORD_ANNOTATIONS.delivery] ?? '',
    jobLabels,
    hookId: Number.isSafeInteger(hookId) && hookId > 0 ? hookId : undefined,
    installationId: Number.isSafeInteger(installationId) && installationId > 0 ? installationId : undefined,
    unconfirmed: annotations[RECORD_ANNOTATIONS.unconfirmed] === 'true',
    workflow: annotations[RECORD_ANNOTATIONS.workflow],
    jobName: annotations[RECORD_ANNOTATIONS.jobName],
    profile: job.metadata.labels?.[`${LABEL_PREFIX}/profile`],
    runnerImage: job.spec?.template.spec?.containers.find((c) => c.name === RUNNER_CONTAINER)?.image,
    outdated: isOutdatedFailure(job),
    outdatedNoted: (annotations[RECORD_ANNOTATIONS.outdated] ?? '') !== '',
    state: stateOf(job),
    ready: job.status?.ready ?? 0,
    failed: (job.status?.conditions ?? []).some(
      (condition) => condition.type === 'Failed' && condition.status === 'True',
    ),
    createdAt: created ? new Date(created).getTime() : 0,
    startedAt: positive(Number(annotations[RECORD_ANNOTATIONS.startedAt])),
    claim: parseClaim(annotations[RECORD_ANNOTATIONS.claim]),
  };
}

function positive(value: number): number | undefined {
  return Number.isSafeInteger(value) && value > 0 ? value : undefined;
}

/** The state of a runner Job as a record; a Job going away is removed whatever else it says. */
function stateOf(job: V1Job): RecordState {
  if (job.metadata?.deletionTimestamp !== undefined && job.metadata.deletionTimestamp !== null)
    return 'removed';
  if (isFinished(job)) return 'finished';
  return job.spec?.suspend === true ? 'queued' : 'started';
}

/**
 * The Job controller's message when the pod failure policy's FailJob rule matched a container's exit code
 * (pkg/controller/job/pod_failure_policy.go): "Container runner for pod <ns>/<pod> failed with exit code 7
 * matching FailJob rule at index 0". The Failed condition's reason is then `PodFailurePolicy`.
 */
const FAIL_JOB_MESSAGE = new RegExp(
  `^Container ${RUNNER_CONTAINER} for pod \\S+ failed with exit code ${VERSION_DEPRECATED_EXIT_CODE} matching FailJob rule`,
);

/**
 * True when a runner Job failed because its runner exited 7: GitHub refused the runner's version. Its Failed
 * condition, as the Job controller writes it for the FailJob rule of `buildRunnerJob`, says so.
 */
export function isOutdatedFailure(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    (condition) =>
      condition.type === 'Failed' &&
      condition.status === 'True' &&
      condition.reason === 'PodFailurePolicy' &&
      FAIL_JOB_MESSAGE.test(condition.message ?? ''),
  );
}

/** True when a Job has a Complete or Failed condition set to True. */
export function isFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    (condition) =>
      (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
  );
}
