/** The request as a Hono handler sees it, as far as reading its body goes. */
export interface RequestLike {
  /** `@hono/node-server` passes the Node request as `env.incoming`; elsewhere (tests, other runtimes) none. */
  readonly env?: unknown;
  readonly req: { readonly raw: Request };
}

/**
 * The body of a request, not yet read: its bytes as they arrive. On `@hono/node-server` the Node request itself (an
 * async iterable of Buffers), read directly: `c.req.raw.body` would make the adapter build a WHATWG Request and a
 * web stream for every delivery. Elsewhere the web stream, which Node's ReadableStream iterates the same way.
 */
export function requestBodyOf(c: RequestLike): AsyncIterable<Uint8Array> | null {
  const incoming = (c.env as { incoming?: AsyncIterable<Uint8Array> } | undefined)?.incoming;
  return incoming ?? (c.req.raw.body as unknown as AsyncIterable<Uint8Array> | null);
}
