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
  /** `<claim id> <until, ms since epoch>`: who is finishing the record, and until when. */
  claim: `${LABEL_PREFIX}/claim`,
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
}

/** Exactly the record fields of a value that may carry more (a RunnerRecord has its uid, claim and so on). */
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
  };
}

/** Whoever holds a claim may register the runner and resume the Job; others wait until it expires. */
export interface Claim {
  readonly id: string;
  readonly until: number;
}

export function formatClaim(claim: Claim): string {
  return `${claim.id} ${claim.until}`;
}

export function parseClaim(text: string | undefined): Claim | undefined {
  const [id, until] = (text ?? '').split(' ');
  return id && until && Number.isFinite(Number(until)) ? { id, until: Number(until) } : undefined;
}
