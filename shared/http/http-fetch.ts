import type { IncomingHttpHeaders } from 'node:http';
import type { AgentOptions as HttpsAgentOptions } from 'node:https';
import type { LookupFunction } from 'node:net';
import { NO_PROXY_ENV, type ProxyEnv } from '../config/parse-proxy-env.js';
import { proxyFor } from './proxy-for.js';
import { type KeepAliveAgents, keepAliveAgents, type RawResponse, sendRequest } from './send-request.js';

/** What our callers pass to fetch: `@octokit/request` (a plain header object). */
export interface HttpFetchInit {
  readonly method?: string;
  readonly headers?: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array | null;
  readonly signal?: AbortSignal | null;
  readonly redirect?: 'follow' | 'manual' | 'error';
  /** Longest each request (each redirect too) may take: a `TimeoutError` after (not in WHATWG fetch). */
  readonly timeoutMs?: number;
}

/** The part of a WHATWG `Response` that `@octokit/request` reads. */
export interface HttpFetchResponse {
  readonly ok: boolean;
  readonly status: number;
  readonly statusText: string;
  readonly url: string;
  readonly headers: ResponseHeaders;
  readonly redirected: boolean;
  text(): Promise<string>;
  json(): Promise<unknown>;
  arrayBuffer(): Promise<ArrayBuffer>;
}

export type HttpFetch = (input: string | URL, init?: HttpFetchInit) => Promise<HttpFetchResponse>;

/** Response headers with the lookups of WHATWG `Headers`: case-insensitive `get`, iteration in lower case. */
export class ResponseHeaders implements Iterable<[string, string]> {
  readonly #values = new Map<string, string>();
  constructor(raw: IncomingHttpHeaders) {
    for (const [name, value] of Object.entries(raw)) {
      if (value !== undefined) this.#values.set(name, Array.isArray(value) ? value.join(', ') : value);
    }
  }
  get(name: string): string | null {
    return this.#values.get(name.toLowerCase()) ?? null;
  }
  has(name: string): boolean {
    return this.#values.has(name.toLowerCase());
  }
  [Symbol.iterator](): IterableIterator<[string, string]> {
    return this.#values.entries();
  }
}

/** How `createHttpFetch` connects. */
export interface HttpFetchOptions {
  /** Sockets per origin (default 128). */
  readonly maxSockets?: number;
  /** HTTPS_PROXY/HTTP_PROXY/NO_PROXY as read by `loadConfig`; unset: every call is direct. */
  readonly proxy?: ProxyEnv;
  /** TLS options for `https:` targets (tests pass their CA; a deployment adds one with NODE_EXTRA_CA_CERTS). */
  readonly tls?: HttpsAgentOptions;
  /** Name resolution instead of the system's (tests resolve their stand-ins' names). */
  readonly lookup?: LookupFunction;
}

const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/**
 * A `fetch` for the calls this function makes, on `node:http(s)` with keep-alive agents. Node 20's global fetch
 * is undici, which is loaded and compiled on first use: ~40 ms of a cold start that the first webhook would pay.
 * Bodies are buffered (answers here are small JSON). Redirects are followed as fetch does (303, and 301/302 after
 * a POST, turn into a GET without body; the `authorization` header is dropped when the origin changes). Each
 * request, redirects too, goes through the proxy `proxy` names for its URL.
 */
export function createHttpFetch(
  options: HttpFetchOptions = {},
): HttpFetch & { close(): void; readonly supportsTimeout: true } {
  const proxy = options.proxy ?? NO_PROXY_ENV;
  const agents: KeepAliveAgents = keepAliveAgents(options.maxSockets ?? 128, {
    ...(options.tls ? { tls: options.tls } : {}),
    ...(options.lookup ? { lookup: options.lookup } : {}),
    proxyFor: (url) => proxyFor(proxy, url),
  });
  const httpFetch = async (input: string | URL, init: HttpFetchInit = {}): Promise<HttpFetchResponse> => {
    let url = new URL(input);
    let method = (init.method ?? 'GET').toUpperCase();
    let body = init.body ?? undefined;
    let headers: Record<string, string> = Object.fromEntries(
      Object.entries(init.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]),
    );
    for (let redirects = 0; ; redirects += 1) {
      const response = await sendRequest(
        url,
        {
          method,
          headers,
          ...(body === undefined ? {} : { body }),
          ...(init.signal ? { signal: init.signal } : {}),
          ...(init.timeoutMs === undefined ? {} : { timeoutMs: init.timeoutMs }),
        },
        agents,
      );
      const location = response.headers.location;
      if (!REDIRECTS.has(response.status) || location === undefined || init.redirect === 'manual') {
        return toResponse(response, url, redirects > 0);
      }
      if (init.redirect === 'error') throw new TypeError(`redirected to ${location}`);
      if (redirects >= MAX_REDIRECTS) throw new TypeError(`more than ${MAX_REDIRECTS} redirects`);
      const next = new URL(location, url);
      if (
        response.status === 303 ||
        ((response.status === 301 || response.status === 302) && method === 'POST')
      ) {
        if (method !== 'HEAD') method = 'GET';
        body = undefined;
        const { 'content-type': _type, ...rest } = headers;
        headers = rest;
      }
      if (next.origin !== url.origin) {
        const { authorization: _authorization, ...rest } = headers;
        headers = rest;
      }
      url = next;
    }
  };
  return Object.assign(httpFetch, { close: () => agents.destroy(), supportsTimeout: true as const });
}

function toResponse(raw: RawResponse, url: URL, redirected: boolean): HttpFetchResponse {
  const text = async () => raw.body.toString('utf8');
  return {
    ok: raw.status >= 200 && raw.status < 300,
    status: raw.status,
    statusText: raw.statusText,
    url: url.href,
    headers: new ResponseHeaders(raw.headers),
    redirected,
    text,
    json: async () => JSON.parse(await text()),
    arrayBuffer: async () =>
      raw.body.buffer.slice(raw.body.byteOffset, raw.body.byteOffset + raw.body.byteLength) as ArrayBuffer,
  };
}
