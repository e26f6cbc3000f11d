import {
  type ClientRequest,
  Agent as HttpAgent,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestOptions,
} from 'node:http';
import {
  Agent as HttpsAgent,
  type AgentOptions as HttpsAgentOptions,
  request as httpsRequest,
} from 'node:https';
import type { LookupFunction } from 'node:net';
import { proxyAuthorization, TunnelAgent } from './tunnel-agent.js';

/** A whole HTTP answer, its body read. */
export interface RawResponse {
  readonly status: number;
  readonly statusText: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface RawRequest {
  readonly method: string;
  readonly headers: Readonly<Record<string, string>>;
  readonly body?: string | Uint8Array;
  readonly signal?: AbortSignal;
  /**
   * Longest the whole request may take, answer read; then it fails with a `TimeoutError`. Cheaper than an
   * `AbortSignal.timeout` per call (a signal, a weak reference, event listeners and a DOMException each), which
   * was a twentieth of the function's CPU under a burst.
   */
  readonly timeoutMs?: number;
}

/** A request that took longer than its `timeoutMs`. */
export class TimeoutError extends Error {
  override readonly name = 'TimeoutError';
  constructor(ms: number) {
    super(`request timeout: no whole answer within ${ms} ms`);
  }
}

/** Where a request goes: the agent, whether it speaks TLS, and for a proxy that forwards, which proxy. */
export interface Route {
  readonly agent: HttpAgent;
  readonly secure: boolean;
  /** Through an HTTP proxy to a plain-HTTP target: connect to the proxy, ask for the absolute URL. */
  readonly forward?: { readonly proxy: URL; readonly authorization: string | undefined };
}

/** Keep-alive agents for plain and TLS connections, direct or through a proxy; `tls` adds CA, client certificate and the like. */
export interface KeepAliveAgents {
  /** The route of a request to `url`: direct, tunnelled through a proxy (`https:`) or forwarded by it (`http:`). */
  route(url: URL): Route;
  /** Closes every kept-alive connection. */
  destroy(): void;
}

/** Idle kept-alive sockets are closed after this long (or sooner when the server says so in `Keep-Alive`). */
const IDLE_TIMEOUT_MS = 30_000;

export interface KeepAliveOptions {
  /** TLS options of `https:` targets (not of an `https://` proxy, which is trusted by the system's CAs). */
  readonly tls?: HttpsAgentOptions;
  /** The proxy to reach `url` through, or `undefined` for a direct connection. Unset: always direct. */
  readonly proxyFor?: (url: URL) => URL | undefined;
  /** Name resolution instead of the system's (tests resolve their stand-ins' names). */
  readonly lookup?: LookupFunction;
}

/**
 * The agents of one client. Direct connections share two agents; each proxy gets its own, created on first use:
 * a `TunnelAgent` for `https:` targets (CONNECT, then TLS to the target inside the tunnel), and a keep-alive agent
 * to the proxy itself for `http:` targets, which are sent to it in absolute form (`GET http://host/path`), as Go
 * and curl do; proxies commonly refuse CONNECT to ports other than 443.
 */
export function keepAliveAgents(maxSockets: number, options: KeepAliveOptions = {}): KeepAliveAgents {
  const base = {
    keepAlive: true,
    maxSockets,
    timeout: IDLE_TIMEOUT_MS,
    ...(options.lookup ? { lookup: options.lookup } : {}),
  };
  const http = new HttpAgent(base);
  const https = new HttpsAgent({ ...base, ...options.tls });
  const tunnels = new Map<string, TunnelAgent>();
  const forwarders = new Map<string, HttpAgent>();
  const direct = { http: { agent: http, secure: false }, https: { agent: https, secure: true } };
  return {
    route: (url) => {
      const secure = url.protocol === 'https:';
      const proxy = options.proxyFor?.(url);
      if (proxy === undefined) return secure ? direct.https : direct.http;
      if (secure) {
        let tunnel = tunnels.get(proxy.href);
        if (tunnel === undefined) {
          tunnel = new TunnelAgent(proxy, { ...base, ...options.tls });
          tunnels.set(proxy.href, tunnel);
        }
        return { agent: tunnel, secure: true };
      }
      let forwarder = forwarders.get(proxy.href);
      if (forwarder === undefined) {
        forwarder = proxy.protocol === 'https:' ? new HttpsAgent(base) : new HttpAgent(base);
        forwarders.set(proxy.href, forwarder);
      }
      return {
        agent: forwarder,
        secure: false,
        forward: { proxy, authorization: proxyAuthorization(proxy) },
      };
    },
    destroy: () => {
      http.destroy();
      https.destroy();
      for (const agent of [...tunnels.values(), ...forwarders.values()]) agent.destroy();
    },
  };
}

/**
 * One request on `node:http(s)` through the given agents, resolved once the whole body is read. Errors are the
 * socket's (ECONNREFUSED, ECONNRESET), an `AbortError` when `signal` fires, or a `TimeoutError` after `timeoutMs`. No undici: its first use costs a
 * cold process tens of milliseconds (it is loaded and its HTTP parser compiled on demand).
 */
export function sendRequest(url: URL, request: RawRequest, agents: KeepAliveAgents): Promise<RawResponse> {
  const route = agents.route(url);
  const headers: Record<string, string> = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
  const options: RequestOptions = {
    method: request.method,
    agent: route.agent,
    headers,
    ...(request.signal ? { signal: request.signal } : {}),
  };
  let timer: NodeJS.Timeout | undefined;
  const onResponse =
    (resolve: (response: RawResponse) => void, reject: (error: Error) => void) =>
    (incoming: IncomingMessage) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('error', reject);
      incoming.on('end', () => {
        clearTimeout(timer);
        resolve({
          status: incoming.statusCode ?? 0,
          statusText: incoming.statusMessage ?? '',
          headers: incoming.headers,
          body: Buffer.concat(chunks),
        });
      });
    };
  return new Promise<RawResponse>((resolve, reject) => {
    let outgoing: ClientRequest;
    if (route.forward === undefined) {
      outgoing = (route.secure ? httpsRequest : httpRequest)(url, options, onResponse(resolve, reject));
    } else {
      // To the proxy, asking for the absolute URL; the Host header stays the target's.
      const { proxy, authorization } = route.forward;
      const secureProxy = proxy.protocol === 'https:';
      outgoing = (secureProxy ? httpsRequest : httpRequest)(
        {
          ...options,
          host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'),
          port: Number(proxy.port) || (secureProxy ? 443 : 80),
          path: url.href,
          ...(secureProxy ? { servername: proxy.hostname } : {}),
          headers: {
            ...headers,
            host: url.host,
            ...(authorization === undefined ? {} : { 'proxy-authorization': authorization }),
          },
        },
        onResponse(resolve, reject),
      );
    }
    outgoing.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    const { timeoutMs } = request;
    if (timeoutMs !== undefined) {
      timer = setTimeout(() => outgoing.destroy(new TimeoutError(timeoutMs)), timeoutMs);
    }
    outgoing.end(request.body);
  });
}
