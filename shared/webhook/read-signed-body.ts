import { createHmac, timingSafeEqual } from 'node:crypto';
import { secretsFor, type WebhookSecrets } from '../config/webhook-secrets.js';
import { PayloadError, SignatureError } from '../errors/errors.js';
import { readCapped, tooLarge } from './read-capped.js';
import { MAX_PAYLOAD_DEPTH, scanPayload } from './scan-payload.js';

/** What the request says about its body, before a byte of it is read. */
export interface BodyHeaders {
  readonly signature: string | undefined;
  readonly contentLength: string | undefined;
  readonly contentType: string | undefined;
}

export interface ReadSignedBodyOptions {
  readonly secrets: WebhookSecrets;
  /** Most bytes read; a body declaring or reaching more is refused (413). */
  readonly maxBytes: number;
  readonly maxDepth?: number;
}

/** A delivery's payload, verified against the secret of the owner it names. */
export interface SignedBody {
  /** The payload, parsed: a JSON object. */
  readonly payload: Record<string, unknown>;
  /** The lower-cased owner whose secrets verified it; undefined when the payload names none (shared secret). */
  readonly owner: string | undefined;
}

/** `sha256=` and 64 hex digits, as GitHub sends it. */
const SIGNATURE = /^sha256=([0-9a-f]{64})$/;

/**
 * Reads a webhook body and returns its payload only once its `X-Hub-Signature-256` HMAC matches the bytes on the
 * wire, never buffering more than `maxBytes` of anything unauthenticated:
 *
 * 1. A missing or malformed signature header is refused (401) before a byte is read, and a Content-Length over
 *    the cap (413) likewise; the server answers with `Connection: close`, then reads and drops the rest within
 *    bounds before it closes (`shared/http/lingering-close.ts`), so that the sender reads the answer.
 * 2. The body is read up to the cap (a chunked body is counted as it streams and refused at the cap).
 * 3. It is decoded strictly (`fatal`, `ignoreBOM`), so the text is exactly the bytes GitHub signed: a body that is
 *    not UTF-8 is refused, and a BOM stays in the text (and fails JSON.parse) instead of being dropped silently.
 * 4. The HMAC is computed over the raw bytes and compared in constant time with each candidate secret (the
 *    current one and, during a rotation, the previous one).
 *
 * Which secrets are candidates depends on the owner, which only the payload names. With per-owner secrets
 * configured, the owner is read from the unverified text by `scanPayload` (one linear pass, no objects built, depth
 * bounded), used only to choose the secrets, and trusted only once the HMAC matched one of that owner's secrets:
 * a forger who names another owner must then hold that owner's secret. An owner that has secrets of its own is
 * never accepted under the shared secret. After verification the payload is parsed and must name the same owner
 * the scan found (a scan and JSON.parse that disagreed would otherwise let the signed owner differ from the used
 * one). Without per-owner secrets, the shared secrets are known before reading, so the HMAC is computed while the
 * bytes stream in and nothing of an unsigned body is parsed or scanned.
 * https://docs.github.com/en/webhooks/using-webhooks/validating-webhook-deliveries
 */
export async function readSignedBody(
  body: { readonly source: AsyncIterable<Uint8Array> | null; readonly headers: BodyHeaders },
  options: ReadSignedBodyOptions,
): Promise<SignedBody> {
  const { source, headers } = body;
  const { secrets, maxBytes, maxDepth = MAX_PAYLOAD_DEPTH } = options;
  const expected = signatureOf(headers.signature);
  const declared = headers.contentLength;
  if (declared !== undefined) {
    if (!/^\d+$/.test(declared)) throw new PayloadError('invalid Content-Length header');
    if (Number(declared) > maxBytes) throw tooLarge(maxBytes);
  }

  // The common case (one shared secret, rotating or not): HMAC while the bytes stream in.
  const early = secrets.owners.size === 0 ? secrets.shared.map((secret) => createHmac('sha256', secret)) : [];
  const bytes = await readCapped(source, maxBytes, early);
  if (bytes.length === 0) throw new PayloadError('request body is empty');
  let owner: string | undefined;
  let json: string;
  if (secrets.owners.size === 0) {
    if (!early.some((hmac) => matches(hmac.digest(), expected))) throw mismatch(undefined);
    json = jsonOf(decodeStrictly(bytes), headers.contentType);
    // Signed already: only the nesting is checked before JSON.parse, the owner is not needed.
    scanPayload(json, maxDepth, false);
  } else {
    json = jsonOf(decodeStrictly(bytes), headers.contentType);
    owner = scanPayload(json, maxDepth).owner?.toLowerCase();
    const candidates = secretsFor(secrets, owner);
    if (candidates.length === 0) {
      throw new SignatureError(
        `no webhook secret for owner ${owner ?? '(none named)'}: add ${owner ?? 'it'}=<secret> to WEBHOOK_SECRETS, or set WEBHOOK_SECRET`,
      );
    }
    const verified = candidates.some((secret) =>
      matches(createHmac('sha256', secret).update(bytes).digest(), expected),
    );
    if (!verified) throw mismatch(secrets.owners.has(owner ?? '') ? owner : undefined);
  }

  const payload = parseObject(json);
  if (secrets.owners.size > 0 && ownerNamed(payload)?.toLowerCase() !== owner) {
    throw new SignatureError('the payload names another owner than the one its signature was checked for');
  }
  return { payload, owner };
}

function signatureOf(header: string | undefined): Buffer {
  if (header === undefined || header === '') {
    throw new SignatureError(
      'missing X-Hub-Signature-256 header: set a secret on the GitHub webhook and the same WEBHOOK_SECRET here',
    );
  }
  const hex = SIGNATURE.exec(header)?.[1];
  if (hex === undefined) {
    throw new SignatureError('malformed X-Hub-Signature-256 header: expected sha256= and 64 hex digits');
  }
  return Buffer.from(hex, 'hex');
}

function mismatch(ownSecretOwner: string | undefined): SignatureError {
  return new SignatureError(
    ownSecretOwner === undefined
      ? "signature mismatch: check that WEBHOOK_SECRET matches the webhook's secret on GitHub"
      : `signature mismatch: check that the secret of ${ownSecretOwner} in WEBHOOK_SECRETS matches the webhook's secret on GitHub`,
  );
}

function matches(digest: Buffer, expected: Buffer): boolean {
  return digest.length === expected.length && timingSafeEqual(digest, expected);
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });

function decodeStrictly(bytes: Buffer): string {
  try {
    return strictUtf8.decode(bytes);
  } catch {
    throw new PayloadError('body is not UTF-8: GitHub sends UTF-8 JSON');
  }
}

/** GitHub sends JSON, or with content type `application/x-www-form-urlencoded`, JSON in a `payload` field. */
function jsonOf(text: string, contentType: string | undefined): string {
  if (contentType?.startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(text).get('payload');
    if (payload === null) throw new PayloadError('form-encoded body has no payload field');
    return payload;
  }
  return text;
}

function parseObject(json: string): Record<string, unknown> {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch (error) {
    throw new PayloadError(`body is not valid JSON: ${(error as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new PayloadError('body must be a JSON object');
  }
  return value as Record<string, unknown>;
}

function ownerNamed(payload: Record<string, unknown>): string | undefined {
  const repository = payload.repository as { owner?: { login?: unknown } } | null | undefined;
  const login = typeof repository === 'object' && repository !== null ? repository.owner?.login : undefined;
  return typeof login === 'string' ? login : undefined;
}
