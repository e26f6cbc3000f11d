import { describe, expect, it } from 'vitest';
import { requireBearer } from '../functions/webhook/require-bearer.js';
import { ForbiddenError, SignatureError } from '../shared/errors/errors.js';

describe('requireBearer', () => {
  it('accepts the configured token', () => {
    expect(() => requireBearer('s3cret-token', 'Bearer s3cret-token')).not.toThrow();
  });

  it.each([
    undefined,
    '',
    'Bearer wrong',
    'Bearer s3cret-token-longer',
    's3cret-token',
    'Basic s3cret-token',
  ])('refuses %j', (header) => {
    expect(() => requireBearer('s3cret-token', header)).toThrow(SignatureError);
  });

  it('is closed to everyone when no token is configured', () => {
    expect(() => requireBearer(undefined, 'Bearer anything')).toThrow(ForbiddenError);
    expect(() => requireBearer(undefined, 'Bearer anything')).toThrow(/set RECONCILE_TOKEN/);
  });
});
