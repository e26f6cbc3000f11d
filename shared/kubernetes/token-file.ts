import { readFile } from 'node:fs/promises';

/**
 * A bearer token kept in a file that may be rotated underneath us (a projected service-account token, which
 * the kubelet renews before it expires). Read at first use and again at most every `refreshMs`, like client-go,
 * or at once when asked for a `fresh` one.
 */
export function tokenFromFile(path: string, refreshMs = 60_000): (fresh?: boolean) => Promise<string> {
  let cached: { token: string; readAt: number } | undefined;
  return async (fresh = false) => {
    if (fresh || cached === undefined || Date.now() - cached.readAt >= refreshMs) {
      const token = (await readFile(path, 'utf8')).trim();
      if (token === '') throw new Error(`the token file ${path} is empty`);
      cached = { token, readAt: Date.now() };
    }
    return cached.token;
  };
}

/** An `Authorization` header source over a token source that can be asked for a fresh token. */
export function asBearer(
  token: (fresh?: boolean) => Promise<string>,
): (options?: { readonly fresh?: boolean }) => Promise<string> {
  return async (options) => `Bearer ${await token(options?.fresh)}`;
}
