import { Agent as HttpAgent, request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import {
  Agent as HttpsAgent,
  type AgentOptions as HttpsAgentOptions,
  request as httpsRequest,
} from 'node:https';

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
}

/** Keep-alive agents for plain and TLS connections; `tls` adds CA, client certificate and the like. */
export interface KeepAliveAgents {
  readonly http: HttpAgent;
  readonly https: HttpsAgent;
  /** Closes every kept-alive connection. */
  destroy(): void;
}

/** Idle kept-alive sockets are closed after this long (or sooner when the server says so in `Keep-Alive`). */
const IDLE_TIMEOUT_MS = 30_000;

export function keepAliveAgents(maxSockets: number, tls: HttpsAgentOptions = {}): KeepAliveAgents {
  const http = new HttpAgent({ keepAlive: true, maxSockets, timeout: IDLE_TIMEOUT_MS });
  const https = new HttpsAgent({ keepAlive: true, maxSockets, timeout: IDLE_TIMEOUT_MS, ...tls });
  return {
    http,
    https,
    destroy: () => {
      http.destroy();
      https.destroy();
    },
  };
}

/**
 * One request on `node:http(s)` through the given agents, resolved once the whole body is read. Errors are the
 * socket's (ECONNREFUSED, ECONNRESET) or an `AbortError` when `signal` fires. No undici: its first use costs a
 * cold process tens of milliseconds (it is loaded and its HTTP parser compiled on demand).
 */
export function sendRequest(url: URL, request: RawRequest, agents: KeepAliveAgents): Promise<RawResponse> {
  const secure = url.protocol === 'https:';
  const send = secure ? httpsRequest : httpRequest;
  const headers: Record<string, string> = { ...request.headers };
  if (request.body !== undefined) headers['content-length'] = String(Buffer.byteLength(request.body));
  return new Promise((resolve, reject) => {
    const outgoing = send(
      url,
      {
        method: request.method,
        agent: secure ? agents.https : agents.http,
        headers,
        ...(request.signal ? { signal: request.signal } : {}),
      },
      (incoming) => {
        const chunks: Buffer[] = [];
        incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
        incoming.on('error', reject);
        incoming.on('end', () =>
          resolve({
            status: incoming.statusCode ?? 0,
            statusText: incoming.statusMessage ?? '',
            headers: incoming.headers,
            body: Buffer.concat(chunks),
          }),
        );
      },
    );
    outgoing.on('error', reject);
    outgoing.end(request.body);
  });
}
