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

/** Which dependency failed: GitHub's REST API or the Kubernetes API server. */
export type Upstream = 'github' | 'kubernetes';

/**
 * A call to GitHub or Kubernetes failed. Answered 502 so that GitHub records a failed delivery
 * which can be redelivered. `status` is the upstream HTTP status when there was one.
 */
export class UpstreamError extends Error {
  override readonly name: string = 'UpstreamError';
  constructor(
    readonly upstream: Upstream,
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
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
