import { NO_PROXY_ENV, type ProxyEnv } from '../config/parse-proxy-env.js';
import { proxyFor } from '../http/proxy-for.js';
import { keepAliveAgents, sendRequest } from '../http/send-request.js';
import type { KubeConnection } from './kube-connection.js';

/** One REST call to the API server. */
export interface KubeRequest {
  readonly method: 'GET' | 'POST' | 'PATCH' | 'DELETE';
  /** The resource path, e.g. `/apis/batch/v1/namespaces/default/jobs`. */
  readonly path: string;
  readonly query?: Readonly<Record<string, string | number | undefined>>;
  readonly body?: unknown;
  /** Defaults to `application/json`; a JSON Patch is `application/json-patch+json`. */
  readonly contentType?: string;
  /** Defaults to `application/json`; a list of object metadata only is `...;as=PartialObjectMetadataList;...`. */
  readonly accept?: string;
  readonly signal?: AbortSignal;
  /** Headers added to the request (e.g. `Impersonate-User`, for `doctor`). */
  readonly headers?: Readonly<Record<string, string>>;
  /**
   * Told of the API server's `Warning` headers (RFC 7234 code 299: admission warnings such as Pod Security's
   * "would violate PodSecurity"), their texts unquoted.
   */
  readonly onWarnings?: (warnings: readonly string[]) => void;
  /** Longest the call may take (see `RawRequest.timeoutMs`). */
  readonly timeoutMs?: number;
}

/** The small part of the Kubernetes REST API the function uses: JSON in, JSON out. */
export interface KubeApi {
  request<T>(call: KubeRequest): Promise<T>;
  /** Closes the kept-alive connections. */
  close(): void;
}

/** The API server answered with an error status; `message` is its Status message when it sent one. */
export class KubeApiError extends Error {
  override readonly name = 'KubeApiError';
  constructor(
    readonly status: number,
    message: string,
    /** Seconds the server asked us to wait (`Retry-After`), when it did. */
    readonly retryAfterSeconds: number | undefined,
  ) {
    super(message);
  }
}

/**
 * Sockets per API server. Above the function's containerConcurrency (100), whose deliveries make one call at a
 * time each, so a call never waits for a socket behind a slow one; far below the API server's default
 * max-requests-inflight (400).
 */
const MAX_SOCKETS = 128;

/**
 * A client of the API server on `node:http(s)` with one keep-alive agent, so calls after the first reuse the
 * TLS connection instead of paying a new handshake each (what `@kubernetes/client-node` 1.x does). It replaces
 * that package at runtime: its generated models and serializers were most of the function's bundle and
 * start-up time, and the function needs only a dozen calls. The API server is reached through the kubeconfig's
 * `proxy-url` when it has one, else through the environment's proxy (`proxyEnv`) unless NO_PROXY exempts it,
 * as client-go does.
 */
export function createKubeApi(connection: KubeConnection, proxyEnv: ProxyEnv = NO_PROXY_ENV): KubeApi {
  const { proxy } = connection;
  const agents = keepAliveAgents(MAX_SOCKETS, {
    tls: connection.tls,
    proxyFor: proxy === undefined ? (url) => proxyFor(proxyEnv, url) : () => proxy,
  });
  // The URL is built as a string and parsed once: a parsed URL edited field by field (pathname, then each query
  // parameter) is serialised again at every step.
  const base = connection.server.origin + connection.server.pathname.replace(/\/$/, '');

  return {
    async request<T>(call: KubeRequest): Promise<T> {
      let query = '';
      for (const name in call.query) {
        const value = call.query[name];
        if (value !== undefined)
          query += `${query === '' ? '?' : '&'}${encodeURIComponent(name)}=${encodeURIComponent(value)}`;
      }
      const url = new URL(base + call.path + query);
      const body = call.body === undefined ? undefined : JSON.stringify(call.body);
      const send = (authorization: string | undefined) => {
        const headers: Record<string, string> = {
          ...call.headers,
          accept: call.accept ?? 'application/json',
        };
        if (authorization !== undefined) headers.authorization = authorization;
        if (body !== undefined) headers['content-type'] = call.contentType ?? 'application/json';
        return sendRequest(
          url,
          {
            method: call.method,
            headers,
            ...(body === undefined ? {} : { body }),
            ...(call.signal ? { signal: call.signal } : {}),
            ...(call.timeoutMs === undefined ? {} : { timeoutMs: call.timeoutMs }),
          },
          agents,
        );
      };
      const authorization = await connection.authorization();
      let response = await send(authorization);
      if (response.status === 401 && authorization !== undefined) {
        // The token was refused: rotated underneath us or expired early. Read or fetch it anew and try once more,
        // as client-go does; the same token again would only be refused again.
        const renewed = await connection.authorization({ fresh: true });
        if (renewed !== authorization) response = await send(renewed);
      }
      const text = response.body.toString('utf8');
      const warning = response.headers.warning;
      if (call.onWarnings !== undefined && warning !== undefined) {
        call.onWarnings(parseWarnings(Array.isArray(warning) ? warning.join(', ') : warning));
      }
      if (response.status >= 200 && response.status < 300) {
        return (text === '' ? undefined : JSON.parse(text)) as T;
      }
      const retryAfter = Number(response.headers['retry-after']);
      throw new KubeApiError(
        response.status,
        statusMessage(text),
        response.headers['retry-after'] !== undefined && Number.isFinite(retryAfter) ? retryAfter : undefined,
      );
    },
    close: () => agents.destroy(),
  };
}

/**
 * The texts of `Warning` header values (`299 - "text"`, several joined by `, `), unquoted. The API server writes
 * each as a quoted string with `\\` and `\"` escaped.
 */
export function parseWarnings(header: string): string[] {
  const found: string[] = [];
  for (const match of header.matchAll(/\d{3} \S+ "((?:[^"\\]|\\.)*)"/g)) {
    found.push((match[1] ?? '').replace(/\\(.)/g, '$1'));
  }
  return found;
}

/** The `message` of a Kubernetes Status body, or the start of whatever else came back. */
function statusMessage(text: string): string {
  try {
    const message = (JSON.parse(text) as { message?: unknown }).message;
    if (typeof message === 'string') return message;
  } catch {
    // not JSON
  }
  return text.slice(0, 300);
}
