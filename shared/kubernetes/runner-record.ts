import type { V1Job } from '@kubernetes/client-node';
import {
  type Claim,
  LABEL_PREFIX,
  parseClaim,
  RECORD_ANNOTATIONS,
  type RecordFields,
} from '../modes/record-annotations.js';

export type { Claim } from '../modes/record-annotations.js';

/** A runner Job read back from the API server. */
export interface RunnerRecord extends RecordFields {
  readonly name: string;
  readonly uid: string;
  readonly resourceVersion: string;
  /** Suspended: the runner is not registered or not started yet (an unfinished record). */
  readonly suspended: boolean;
  /** Complete or Failed. */
  readonly finished: boolean;
  /** Pods of the Job that are ready: a started runner. */
  readonly ready: number;
  readonly createdAt: number;
  readonly claim: Claim | undefined;
  /** Deleted, and going away (its deletionTimestamp is set): not a record to build on. */
  readonly deleting: boolean;
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
    suspended: job.spec?.suspend === true,
    finished: (job.status?.conditions ?? []).some(
      (condition) =>
        (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
    ),
    ready: job.status?.ready ?? 0,
    createdAt: created ? new Date(created).getTime() : 0,
    claim: parseClaim(annotations[RECORD_ANNOTATIONS.claim]),
    deleting: job.metadata.deletionTimestamp !== undefined && job.metadata.deletionTimestamp !== null,
  };
}

/** True when a Job has a Complete or Failed condition set to True. */
export function isFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    (condition) =>
      (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
  );
}
