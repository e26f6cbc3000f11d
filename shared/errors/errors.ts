/**
 * Typed errors raised by domain code. The HTTP layer maps each to a status code in one place
 * (`functions/webhook/app.ts`), so helpers never choose statuses themselves.
 */

/** The webhook signature is missing or does not match the body. Answered 401. */
export class SignatureError extends Error {
  override readonly name = 'SignatureError';
}

/** The caller is not allowed this (a wrong or missing bearer token, an endpoint switched off). Answered 403. */
export class ForbiddenError extends Error {
  override readonly name = 'ForbiddenError';
}

/** This deployment holds no GitHub credential for the delivery's owner or installation. Answered 422. */
export class NoCredentialError extends Error {
  override readonly name = 'NoCredentialError';
}

/** The body passed the signature check but is not a payload we can use. Answered 400. */
export class PayloadError extends Error {
  override readonly name = 'PayloadError';
}

/** The body is larger than WEBHOOK_MAX_BODY_BYTES allows. Answered 413, without reading the rest. */
export class PayloadTooLargeError extends Error {
  override readonly name = 'PayloadTooLargeError';
}

/** Which dependency failed: GitHub's REST API or the Kubernetes API server. */
export type Upstream = 'github' | 'kubernetes';

/**
 * A call to GitHub or Kubernetes failed. Answered 502 so that GitHub records a failed delivery
 * which can be redelivered. `status` is the upstream HTTP status when there was one.
 *
 * The message may quote the upstream's own error text, which an upstream (or a proxy in front of it) may have
 * filled with what it was sent: it is kept short and redacted here, once for every caller. The answer to the
 * client never carries it (see `app.ts`), only the log does.
 */
export class UpstreamError extends Error {
  override readonly name: string = 'UpstreamError';
  constructor(
    readonly upstream: Upstream,
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(redactUpstreamText(message), options);
  }
}

/**
 * A record changed under a delivery: it was removed (a cancellation, a reset) or reset while the delivery worked
 * on it. An UpstreamError (a 409 of the Kubernetes API server in effect), answered 502 so that GitHub shows a
 * failed delivery and a redelivery or reconcile finishes the job from the record as it now is.
 */
export class RecordConflictError extends UpstreamError {
  override readonly name = 'RecordConflictError';
  constructor(message: string) {
    super('kubernetes', message, 409);
  }
}

/**
 * GitHub answered in a way that no retry, redelivery or reconcile pass can change: 400 (malformed request, e.g.
 * labels GitHub refuses), 404 (the repository, job or runner group does not exist for this credential), 422
 * (validation failed, e.g. too many labels). Answered 422 with the reason; a record left for such a job is removed
 * rather than retried for ever.
 */
export class PermanentUpstreamError extends UpstreamError {
  override readonly name = 'PermanentUpstreamError';
  constructor(
    upstream: Upstream,
    /** What failed and the status, in our own words (no upstream text): safe to answer with. */
    readonly reason: string,
    message: string,
    status: number,
    options?: { cause?: unknown },
  ) {
    super(upstream, message, status, options);
  }
}

/**
 * GitHub cannot be called for this credential now: it answered with a rate limit (403 or 429 with `retry-after`,
 * or `x-ratelimit-remaining: 0` with `x-ratelimit-reset`) and asked us to wait until `until`, or this instance's
 * own budget for the credential (concurrent calls, points a minute) is spent. Nothing is retried before `until`:
 * the record stays queued and is started as the budget allows (a 202 `waiting`, not a failure).
 * https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits
 */
export class GitHubLimitError extends UpstreamError {
  override readonly name = 'GitHubLimitError';
  constructor(
    /** Why, in our own words (no GitHub text): safe to answer with. */
    readonly reason: string,
    /** When the credential may be called again (ms since epoch). */
    readonly until: number,
    status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super('github', reason, status, options);
  }
}

/** Upstream statuses that cannot change by asking again. */
export const PERMANENT_UPSTREAM_STATUSES: ReadonlySet<number> = new Set([400, 404, 422]);

/** Longest upstream text kept in a message. */
export const UPSTREAM_TEXT_LIMIT = 300;

/**
 * Upstream text as it may be logged: tokens (GitHub's `ghp_`/`github_pat_`/`ghs_`... prefixes, JWTs, bearer and
 * token credentials) and long base64 runs (a JIT config is one) replaced by `***`, then cut to
 * UPSTREAM_TEXT_LIMIT characters.
 */
export function redactUpstreamText(text: string): string {
  // Bounded work whatever the upstream sent: look at the start only, without a token cut in half at its end.
  const head =
    text.length > UPSTREAM_TEXT_LIMIT * 4
      ? text.slice(0, UPSTREAM_TEXT_LIMIT * 4).replace(/[\w+/=.-]*$/, '')
      : text;
  const redacted = head
    .replace(/\b(gh[pousr]_[A-Za-z0-9_]{16,}|github_pat_[A-Za-z0-9_]{16,})/g, '***')
    .replace(/\beyJ[A-Za-z0-9_-]{8,}\.[A-Za-z0-9_-]{8,}(\.[A-Za-z0-9_-]*)?/g, '***')
    .replace(/\b(bearer|token|basic)\s+[A-Za-z0-9._~+/=-]{8,}/gi, '$1 ***')
    // 40+ characters of base64 with a digit, an upper- and a lower-case letter: not a word, a path or a URL.
    .replace(
      /(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Z])(?=[A-Za-z0-9+/_-]*[a-z])[A-Za-z0-9+/_-]{40,}={0,2}/g,
      '***',
    );
  return redacted.length > UPSTREAM_TEXT_LIMIT ? `${redacted.slice(0, UPSTREAM_TEXT_LIMIT)}...` : redacted;
}

/**
 * An error as it may be logged: its type, its message redacted and cut (see redactUpstreamText), its upstream and
 * status, and the stack frames; never its `cause`, whose message is an upstream's raw text (pino's default error
 * serializer appends every cause's message). The logger uses it for every `err` field.
 */
export function loggableError(error: unknown): Record<string, unknown> {
  if (!(error instanceof Error)) return { type: typeof error, message: redactUpstreamText(String(error)) };
  const frames = (error.stack ?? '').split('\n').filter((line) => /^\s+at /.test(line));
  return {
    type: error.name,
    message: redactUpstreamText(error.message),
    ...(error instanceof UpstreamError ? { upstream: error.upstream, status: error.status } : {}),
    ...(error.cause instanceof Error ? { cause: error.cause.name } : {}),
    stack: frames.join('\n'),
  };
}
