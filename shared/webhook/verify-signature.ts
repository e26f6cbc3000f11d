import { verify } from '@octokit/webhooks-methods';
import { PayloadError, SignatureError } from '../errors/errors.js';

/**
 * Checks GitHub's `X-Hub-Signature-256` header (`sha256=<hex HMAC of the body>`) against the raw body.
 * `@octokit/webhooks-methods` compares with `crypto.timingSafeEqual`, so a forger learns nothing from timing.
 * Throws SignatureError when the header is missing or does not match.
 * https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
 */
export async function verifySignature(
  secret: string,
  body: string,
  signature: string | undefined,
): Promise<void> {
  if (signature === undefined || signature === '') {
    throw new SignatureError(
      'missing X-Hub-Signature-256 header: set a secret on the GitHub webhook and the same WEBHOOK_SECRET here',
    );
  }
  if (body === '') throw new PayloadError('request body is empty');
  if (!(await verify(secret, body, signature))) {
    throw new SignatureError(
      "signature mismatch: check that WEBHOOK_SECRET matches the webhook's secret on GitHub",
    );
  }
}
