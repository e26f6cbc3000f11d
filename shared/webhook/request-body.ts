import type { BodyHeaders } from './read-signed-body.js';

/** The request as a Hono handler sees it, as far as reading its body goes. */
export interface RequestLike {
  /** `@hono/node-server` passes the Node request as `env.incoming`; elsewhere (tests, other runtimes) none. */
  readonly env?: unknown;
  readonly req: { readonly raw: Request; header(name: string): string | undefined };
}

/** A request body to read: its bytes as they arrive, and what its headers say about them. */
export interface RequestBody {
  readonly source: AsyncIterable<Uint8Array> | null;
  readonly headers: BodyHeaders;
}

/**
 * The body of a request, not yet read. On `@hono/node-server` the Node request itself (an async iterable of
 * Buffers), read directly: `c.req.raw.body` would make the adapter build a WHATWG Request and a web stream for
 * every delivery. Elsewhere the web stream, which Node's ReadableStream iterates the same way.
 */
export function requestBodyOf(c: RequestLike): RequestBody {
  const incoming = (c.env as { incoming?: AsyncIterable<Uint8Array> } | undefined)?.incoming;
  return {
    source: incoming ?? (c.req.raw.body as unknown as AsyncIterable<Uint8Array> | null),
    headers: {
      signature: c.req.header('x-hub-signature-256'),
      contentLength: c.req.header('content-length'),
      contentType: c.req.header('content-type'),
    },
  };
}
