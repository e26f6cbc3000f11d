import { PayloadError } from '../errors/errors.js';

/** The parts of a `workflow_job` delivery this function uses. */
export interface WorkflowJobEvent {
  readonly action: string;
  readonly jobId: number;
  readonly runId: number;
  readonly runAttempt: number;
  readonly labels: readonly string[];
  /** `null` until a runner picks the job up. */
  readonly runnerId: number | null;
  /** The name of the runner that took the job (`runner-<job id>` for ours), if any. */
  readonly runnerName: string | null;
  readonly owner: string;
  readonly repo: string;
  /** The GitHub App installation that sent it (App webhooks only). */
  readonly installationId: number | undefined;
  /** Public repositories can run a fork's pull request on the runner. */
  readonly isPublic: boolean;
  /** GitHub's own times of the job (ms since the epoch), for the metrics: `undefined` where the payload has none. */
  readonly times: JobTimes;
  /** `success`, `failure`, `cancelled`, ... once completed; `null` before. */
  readonly conclusion: string | null;
}

/** When GitHub says the job was queued (`created_at`), started and completed. */
export interface JobTimes {
  readonly createdAt: number | undefined;
  readonly startedAt: number | undefined;
  readonly completedAt: number | undefined;
}

/**
 * Parses the body of a `workflow_job` delivery, after its signature was checked. Throws PayloadError with the
 * first missing or mistyped field, so a caller sees what is wrong with the payload.
 * https://docs.github.com/en/webhooks/webhook-events-and-payloads#workflow_job
 */
export function parseWorkflowJob(body: string | Json): WorkflowJobEvent {
  const payload = typeof body === 'string' ? parseJson(body) : body;
  const action = field(payload, 'action', isString, 'a string');
  const job = field(payload, 'workflow_job', isObject, 'an object');
  const repository = field(payload, 'repository', isObject, 'an object');
  const owner = field(repository, 'owner', isObject, 'an object', 'repository.');
  const labels = field(job, 'labels', isStringArray, 'an array of strings', 'workflow_job.');
  return {
    action,
    jobId: field(job, 'id', isPositiveInteger, 'a positive integer', 'workflow_job.'),
    runId: field(job, 'run_id', isPositiveInteger, 'a positive integer', 'workflow_job.'),
    // Older payloads lack run_attempt; GitHub counts attempts from 1.
    runAttempt: optional(job, 'run_attempt', isPositiveInteger, 'a positive integer', 'workflow_job.') ?? 1,
    labels,
    runnerId: optional(job, 'runner_id', isInteger, 'an integer or null', 'workflow_job.') ?? null,
    runnerName: optional(job, 'runner_name', isString, 'a string or null', 'workflow_job.') ?? null,
    owner: field(
      owner,
      'login',
      isOwnerLogin,
      'an account login (letters, digits, - and _)',
      'repository.owner.',
    ),
    repo: field(
      repository,
      'name',
      isRepositoryName,
      'a repository name (letters, digits, ., - and _)',
      'repository.',
    ),
    installationId: installationIdOf(payload),
    // `private` is in every repository payload; `visibility` only in newer ones ("public", "private", "internal").
    isPublic: repository.private === false || repository.visibility === 'public',
    times: {
      createdAt: timeOf(job, 'created_at'),
      startedAt: timeOf(job, 'started_at'),
      completedAt: timeOf(job, 'completed_at'),
    },
    conclusion: optional(job, 'conclusion', isString, 'a string or null', 'workflow_job.') ?? null,
  };
}

/** An ISO 8601 time of the job (GitHub's `2026-12-08T03:10:00Z`) in ms; absent or null is `undefined`. */
function timeOf(job: Json, key: string): number | undefined {
  const text = optional(job, key, isString, 'an ISO 8601 time or null', 'workflow_job.');
  if (text === undefined) return undefined;
  const ms = Date.parse(text);
  if (!ISO_TIME.test(text) || !Number.isFinite(ms)) {
    throw new PayloadError(`payload field workflow_job.${key} must be an ISO 8601 time or null`);
  }
  return ms;
}

/** The shape of GitHub's times: date, `T`, time, optional fraction, `Z` or an offset. */
const ISO_TIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(?:\.\d+)?(?:Z|[+-]\d{2}:\d{2})$/;

/** The `zen` and `hook_id` of a `ping` delivery, for the log; the body only has to be JSON. */
export function parsePing(body: string | Json): { hookId: number | null } {
  const payload = typeof body === 'string' ? parseJson(body) : body;
  return { hookId: optional(payload, 'hook_id', isInteger, 'an integer') ?? null };
}

type Json = Record<string, unknown>;

/**
 * GitHub's account logins: letters, digits and hyphens (and `_` in Enterprise managed-user handles), 39 characters
 * on github.com; a little more is allowed for GitHub Enterprise Server. Anything else (a `/`, `..`, `%`) would
 * change the meaning of the REST paths and record annotations built from it.
 */
export const OWNER_LOGIN = /^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/;

/** GitHub's repository names: letters, digits, `.`, `-`, `_`, at most 100; `.` and `..` are reserved. */
export const REPOSITORY_NAME = /^(?!\.{1,2}$)[A-Za-z0-9._-]{1,100}$/;

function installationIdOf(payload: Json): number | undefined {
  const installation = payload.installation;
  if (installation === undefined || installation === null) return undefined;
  if (!isObject(installation)) throw new PayloadError('payload field installation must be an object');
  return field(installation, 'id', isPositiveInteger, 'a positive integer', 'installation.');
}

function parseJson(body: string): Json {
  let value: unknown;
  try {
    value = JSON.parse(body);
  } catch (error) {
    throw new PayloadError(`body is not valid JSON: ${(error as Error).message}`);
  }
  if (!isObject(value)) throw new PayloadError('body must be a JSON object');
  return value;
}

function field<T>(object: Json, key: string, check: (v: unknown) => v is T, what: string, path = ''): T {
  const value = object[key];
  if (!check(value)) throw new PayloadError(`payload field ${path}${key} must be ${what}`);
  return value;
}

function optional<T>(
  object: Json,
  key: string,
  check: (v: unknown) => v is T,
  what: string,
  path = '',
): T | undefined {
  const value = object[key];
  if (value === undefined || value === null) return undefined;
  if (!check(value)) throw new PayloadError(`payload field ${path}${key} must be ${what}`);
  return value;
}

const isString = (v: unknown): v is string => typeof v === 'string';
const isOwnerLogin = (v: unknown): v is string => typeof v === 'string' && OWNER_LOGIN.test(v);
const isRepositoryName = (v: unknown): v is string => typeof v === 'string' && REPOSITORY_NAME.test(v);
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);
const isInteger = (v: unknown): v is number => Number.isSafeInteger(v);
const isPositiveInteger = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) > 0;
const isStringArray = (v: unknown): v is string[] => Array.isArray(v) && v.every(isString);
