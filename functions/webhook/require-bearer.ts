import { createHash, timingSafeEqual } from 'node:crypto';
import { ForbiddenError, SignatureError } from '../../shared/errors/errors.js';

/**
 * Checks `Authorization: Bearer <token>` against the configured token in constant time (both sides hashed first,
 * so their lengths leak nothing either). With no token configured the endpoint is closed to everyone.
 */
export function requireBearer(expected: string | undefined, header: string | undefined): void {
  if (expected === undefined) {
    throw new ForbiddenError('reconcile is switched off: set RECONCILE_TOKEN to allow POST /reconcile');
  }
  const presented = /^Bearer (.+)$/i.exec(header ?? '')?.[1] ?? '';
  const digest = (text: string) => createHash('sha256').update(text).digest();
  if (!timingSafeEqual(digest(presented), digest(expected))) {
    throw new SignatureError('missing or wrong bearer token for POST /reconcile');
  }
}
