import type { V1Job, V1Secret } from '@kubernetes/client-node';
import type { Deadline } from '../retry/with-retries.js';
import type { Claim, RecordFields } from './record-schema.js';
import type { RunnerRecord } from './runner-record.js';

/** The outcome of creating a record: created now, or one of that name was already there. */
export type CreateRecordResult =
  | { readonly created: true; readonly record: RunnerRecord }
  | { readonly created: false };

/**
 * Where records live, and every transition of their life (see `RecordState` in `runner-record.ts`). The
 * implementation on the Kubernetes REST API is `createKubernetesRecordStore`. Calls retry 5xx, 429 and timeouts
 * until their deadline.
 */
export interface RecordStore {
  /**
   * -> queued: records a job as its Job, created suspended. An existing record of that name is not an error
   * (`{ created: false }`): a repeated delivery or a racing replica meets it instead of making a second.
   */
  createRecord(job: V1Job, deadline?: Deadline): Promise<CreateRecordResult>;
  getRecord(name: string, deadline?: Deadline): Promise<RunnerRecord | undefined>;
  /**
   * Takes over a queued record, if it has not changed since it was read (optimistic concurrency on its
   * resourceVersion). False when someone else changed it first. Only a claim's holder may start the record.
   */
  claimRecord(record: RunnerRecord, claim: Claim, deadline?: Deadline): Promise<boolean>;
  /**
   * Gives a claim up early (best effort), so that a redelivery need not wait for it to expire; only while it is
   * still `claim` (a release sent late, or answered late, must not take the claim of whoever holds it now).
   */
  releaseClaim(name: string, claim: Claim, deadline?: Deadline): Promise<void>;
  /** Stores a registration's JIT config in the record's Secret; `exists` when a Secret of that name is already there. */
  createJitSecret(secret: V1Secret, deadline?: Deadline): Promise<'created' | 'exists'>;
  /**
   * queued -> started: resumes the Job so its pod starts, writes when (`startedAt`, ms since epoch), and lets the
   * claim go; only while `claim` is still the record's claim (a JSON Patch `test`). A RecordConflictError when it
   * is not (a cancellation replaced it, or the record was taken over) or the record is gone: nothing was started.
   */
  startRecord(name: string, claim: Claim, startedAt: number, deadline?: Deadline): Promise<void>;
  /**
   * -> removed: deletes the Job and, through the garbage collector, its pods and Secret. A missing record is not an
   * error.
   */
  deleteRecord(name: string, deadline?: Deadline): Promise<void>;
  /**
   * Writes on a finished record why GitHub refused its runner (the `outdated` annotation), so that it is counted and
   * logged once. A missing record is not an error.
   */
  noteOutdated(name: string, why: string, deadline?: Deadline): Promise<void>;
  /** The records of one job: its own, and replacements made when another job took its runner. */
  listRecordsOfJob(jobId: number, deadline?: Deadline): Promise<RunnerRecord[]>;
  /** Every record (`app=github-runner` Jobs this version can read), in every state. */
  listRecords(deadline?: Deadline): Promise<RunnerRecord[]>;
  /**
   * Takes one of `capacity` slots of a scope for a record, atomically (a slot is a Lease; creating one that
   * exists is a 409). False when all are taken. The slot is owned by the Job, so the garbage collector frees it
   * with the Job at the latest.
   */
  acquireSlot(
    scope: string,
    capacity: number,
    holder: { name: string; uid: string },
    deadline?: Deadline,
  ): Promise<boolean>;
  /** Frees the slots a record holds. */
  releaseSlots(holder: string, deadline?: Deadline): Promise<void>;
  /** Every slot taken, with its holder. */
  listSlots(deadline?: Deadline): Promise<{ name: string; holder: string; scope: string }[]>;
  /** Counts runner Jobs that are not finished (queued or started). */
  countActive(): Promise<number>;
  /**
   * Writes down, durably and apart from the Job, that the record of this job is being reset (removed and made
   * anew, queued), so that a reset cut short cannot lose the job: reconcile makes the record again from the mark.
   * An existing mark is not an error.
   */
  markReset(fields: RecordFields, deadline?: Deadline): Promise<void>;
  /** Every reset mark, with the fields to make the record from and when it was written (ms since epoch). */
  listResetMarks(deadline?: Deadline): Promise<ResetMark[]>;
  /** Removes the mark of a job; a missing one is not an error. */
  clearResetMark(jobId: number, deadline?: Deadline): Promise<void>;
  /** A webhook's delivery mark (`source`: `owner/repo#hook`, or `app`); undefined when it has none. */
  readDeliveryMark(source: string, deadline?: Deadline): Promise<DeliveryMark | undefined>;
  /** Writes a webhook's delivery mark; one whose time is earlier than the mark's now is dropped. */
  writeDeliveryMark(source: string, mark: DeliveryMark, deadline?: Deadline): Promise<void>;
}

/** How far reconcile has looked through a webhook's deliveries. */
export interface DeliveryMark {
  /** Every delivery since this time (ISO, GitHub's clock) was looked at and every failed one asked for again. */
  readonly since?: string;
  /**
   * A look begun and not finished (too many pages for one pass): GitHub's cursor of the next page to read, and the
   * time of the newest delivery when it began, which becomes `since` (less a margin) once it reaches `since`.
   */
  readonly scan?: { readonly cursor: string; readonly top: string };
}

/** A reset of a record, begun at `markedAt` and not yet known to be complete. */
export interface ResetMark {
  readonly fields: RecordFields;
  readonly markedAt: number;
}
