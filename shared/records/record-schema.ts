/**
 * The schema of a record: the runner Job that stands for one queued workflow job, durably, in the cluster. Its
 * name, labels and annotations are written here and read back by `toRunnerRecord`; nothing else names them.
 */
import { randomUUID } from 'node:crypto';
import { toLabelValue } from '../modes/label-value.js';

/** The prefix of every label and annotation this project writes. */
export const LABEL_PREFIX = 'kube-actions-runner.dev';

/** Annotations that make a runner Job its own durable record: enough to finish or clean it up later. */
export const RECORD_ANNOTATIONS = {
  repository: `${LABEL_PREFIX}/repository`,
  jobLabels: `${LABEL_PREFIX}/job-labels`,
  delivery: `${LABEL_PREFIX}/delivery`,
  hook: `${LABEL_PREFIX}/hook`,
  installation: `${LABEL_PREFIX}/installation`,
  runAttempt: `${LABEL_PREFIX}/run-attempt`,
  runId: `${LABEL_PREFIX}/run-id`,
  mode: `${LABEL_PREFIX}/mode`,
  /** `<claim id> <until, ms since epoch>`: who is starting the record, and until when. */
  claim: `${LABEL_PREFIX}/claim`,
  /** When the record was started (ms since epoch): a runner's start timeout counts from here, not from creation. */
  startedAt: `${LABEL_PREFIX}/started-at`,
  /** `true` on a record made from its delivery's payload, before GitHub confirmed the job (see `unconfirmed`). */
  unconfirmed: `${LABEL_PREFIX}/unconfirmed`,
  /** The workflow's name and the job's, as GitHub answered for the job (cost attribution: `attributionOf`). */
  workflow: `${LABEL_PREFIX}/workflow`,
  jobName: `${LABEL_PREFIX}/job-name`,
  /** Why GitHub refused the record's runner (exit 7): written once by reconcile, which counts it then. */
  outdated: `${LABEL_PREFIX}/outdated`,
} as const;

/** What a runner record holds about its workflow job: written on the Job, read back from it. */
export interface RecordFields {
  readonly owner: string;
  readonly repo: string;
  readonly jobId: number;
  readonly runId: number;
  readonly runAttempt: number;
  readonly deliveryId: string;
  /** The job's `runs-on` labels, kept so that the runner can be registered later from the record alone. */
  readonly jobLabels: readonly string[];
  /** The webhook (`X-GitHub-Hook-ID`) that delivered the job, for finding failed deliveries later. */
  readonly hookId?: number | undefined;
  /** The GitHub App installation of the repository (App mode), to act for it later. */
  readonly installationId?: number | undefined;
  /** The workflow's name and the job's, from GitHub's answer for the job (never the payload's). */
  readonly workflow?: string | undefined;
  readonly jobName?: string | undefined;
  /**
   * Made from the delivery's payload (its repository, installation and labels) while GitHub's limits refused the
   * job's read: GitHub has not confirmed that this repository holds the job with these labels. The record's name is
   * the job id's, one for the whole namespace, and GitHub's job ids are unique across repositories, so such a record
   * may be a tenant's claim to another's job: it never keeps out a delivery whose job GitHub confirms, and it is
   * started only once GitHub, asked through its repository, answers with its labels. Not carried to a replacement
   * (`recordFieldsOf`): one is made only from a record that was started, so confirmed.
   */
  readonly unconfirmed?: boolean | undefined;
}

/**
 * Exactly the record fields of a value that may carry more (a RunnerRecord has its uid, claim and so on), as a record
 * made from another is made: without `unconfirmed`.
 */
export function recordFieldsOf(source: RecordFields): RecordFields {
  return {
    owner: source.owner,
    repo: source.repo,
    jobId: source.jobId,
    runId: source.runId,
    runAttempt: source.runAttempt,
    deliveryId: source.deliveryId,
    jobLabels: source.jobLabels,
    hookId: source.hookId,
    installationId: source.installationId,
    workflow: source.workflow,
    jobName: source.jobName,
  };
}

/** Whoever holds a claim may register the runner and resume the Job; others wait until it expires. */
export interface Claim {
  readonly id: string;
  readonly until: number;
}

/** A new claim for this process, valid for `ttlSeconds` from `now`. */
export function newClaim(ttlSeconds: number, now: number): Claim {
  return { id: randomUUID(), until: now + ttlSeconds * 1000 };
}

/**
 * The claim a cancellation leaves on a queued record that another delivery is starting: it replaces that
 * delivery's claim, so its conditional start fails and it removes what it made; already expired, so that reconcile
 * may take the record over (and remove it) if that delivery died.
 */
export const CANCELLED_CLAIM: Claim = { id: 'cancelled', until: 0 };

export function formatClaim(claim: Claim): string {
  return `${claim.id} ${claim.until}`;
}

export function parseClaim(text: string | undefined): Claim | undefined {
  const [id, until] = (text ?? '').split(' ');
  return id && until && Number.isFinite(Number(until)) ? { id, until: Number(until) } : undefined;
}

/** Every runner Job carries this label; `kubectl get jobs -l app=github-runner` lists them. */
export const RUNNER_APP_LABEL = { app: 'github-runner' } as const;

/**
 * The record's name for a GitHub job id, also the name of its Job, its JIT Secret and its runner registration:
 * one job, one name, so a second create is a 409.
 */
export function runnerJobName(jobId: number): string {
  return `runner-${jobId}`;
}

/**
 * The name of a replacement runner for a job whose own runner another job took (`runner-<job id>-<n>`, n >= 2):
 * deterministic, so two deliveries that both decide to replace it make one (a 409 for the second).
 */
export function replacementName(jobId: number, generation: number): string {
  return `${runnerJobName(jobId)}-${generation}`;
}

/** The job id a runner of ours was made for, from its name (`runner-<id>` or `runner-<id>-<n>`); else undefined. */
export function jobIdOfRunner(name: string | null | undefined): number | undefined {
  const match = /^runner-(\d+)(?:-\d+)?$/.exec(name ?? '');
  const jobId = Number(match?.[1]);
  return match && Number.isSafeInteger(jobId) ? jobId : undefined;
}

/** Which runner of its job a record is: 1 for the job's own (`runner-<id>`), n for a replacement (`runner-<id>-<n>`). */
export function generationOf(name: string): number {
  const match = /^runner-\d+-(\d+)$/.exec(name);
  return match ? Number(match[1]) : 1;
}

/** The labels that identify a record's Job, its pod and its Secret. */
export function runnerLabels(input: Pick<RecordFields, 'owner' | 'repo' | 'jobId'>): Record<string, string> {
  return {
    ...RUNNER_APP_LABEL,
    [`${LABEL_PREFIX}/owner`]: toLabelValue(input.owner),
    [`${LABEL_PREFIX}/repo`]: toLabelValue(input.repo),
    [`${LABEL_PREFIX}/job-id`]: String(input.jobId),
  };
}
