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
  override readonly name = 'UpstreamError';
  constructor(
    readonly upstream: Upstream,
    message: string,
    readonly status: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}
