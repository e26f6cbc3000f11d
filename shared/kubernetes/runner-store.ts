import type { V1Job, V1Secret } from '@kubernetes/client-node';
import type { RecordFields } from '../modes/record-annotations.js';
import type { Deadline } from '../retry/with-retries.js';
import type { Claim, RunnerRecord } from './runner-record.js';

/** The outcome of creating a runner Job: created now, or already there. */
export type CreateJobResult =
  | { readonly created: true; readonly record: RunnerRecord }
  | { readonly created: false };

/**
 * What the function needs from Kubernetes. The implementation on the Kubernetes REST API is
 * `createKubernetesRunnerStore`. Calls retry 5xx, 429 and timeouts until their deadline.
 */
export interface RunnerStore {
  /** Creates the Job. An existing Job of that name is not an error: `{ created: false }`. */
  createJob(job: V1Job, deadline?: Deadline): Promise<CreateJobResult>;
  getRecord(name: string, deadline?: Deadline): Promise<RunnerRecord | undefined>;
  /**
   * Takes over an unfinished record, if it has not changed since it was read (optimistic concurrency on its
   * resourceVersion). False when someone else changed it first.
   */
  claim(record: RunnerRecord, claim: Claim, deadline?: Deadline): Promise<boolean>;
  /** Gives a claim up early (best effort), so that a redelivery need not wait for it to expire. */
  releaseClaim(name: string, deadline?: Deadline): Promise<void>;
  /** Creates the JIT Secret; `exists` when a Secret of that name is already there. */
  createSecret(secret: V1Secret, deadline?: Deadline): Promise<'created' | 'exists'>;
  /** Resumes a suspended Job so its pod starts. */
  resumeJob(name: string, deadline?: Deadline): Promise<void>;
  /** Deletes a Job and, through the garbage collector, its pods and Secret. A missing Job is not an error. */
  deleteJob(name: string, deadline?: Deadline): Promise<void>;
  /** Every runner Job (`app=github-runner`) as a record. */
  listRecords(deadline?: Deadline): Promise<RunnerRecord[]>;
  /**
   * Takes one of `capacity` slots of a scope for a runner Job, atomically (a slot is a Lease; creating one that
   * exists is a 409). False when all are taken. The slot is owned by the Job, so the garbage collector frees it
   * with the Job at the latest.
   */
  acquireSlot(
    scope: string,
    capacity: number,
    holder: { name: string; uid: string },
    deadline?: Deadline,
  ): Promise<boolean>;
  /** Frees the slots a runner Job holds. */
  releaseSlots(holder: string, deadline?: Deadline): Promise<void>;
  /** Every slot taken, with its holder. */
  listSlots(deadline?: Deadline): Promise<{ name: string; holder: string }[]>;
  /** Counts runner Jobs that have neither completed nor failed. */
  countActive(): Promise<number>;
  /**
   * Writes down, durably and apart from the Job, that the record of this job is being reset (deleted and made
   * anew), so that a reset cut short cannot lose the job: reconcile makes the record again from the mark. An
   * existing mark is not an error.
   */
  markReset(fields: RecordFields, deadline?: Deadline): Promise<void>;
  /** Every reset mark, with the fields to make the record from and when it was written (ms since epoch). */
  listResetMarks(deadline?: Deadline): Promise<ResetMark[]>;
  /** Removes the mark of a job; a missing one is not an error. */
  clearResetMark(jobId: number, deadline?: Deadline): Promise<void>;
}

/** A reset of a runner record, begun at `markedAt` and not yet known to be complete. */
export interface ResetMark {
  readonly fields: RecordFields;
  readonly markedAt: number;
}
