import { type ClientRequest, request as httpRequest, type IncomingMessage } from 'node:http';
import {
  Agent as HttpsAgent,
  type AgentOptions as HttpsAgentOptions,
  request as httpsRequest,
} from 'node:https';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

/** How long the proxy has to open a tunnel (connect, and answer CONNECT) before the request fails. */
const TUNNEL_TIMEOUT_MS = 10_000;

/** The proxy would not open a tunnel: it answered CONNECT with a non-2xx status, or not in time. */
export class ProxyTunnelError extends Error {
  override readonly name = 'ProxyTunnelError';
}

/**
 * A keep-alive `https.Agent` whose connections are tunnels through an HTTP proxy: each new connection asks the
 * proxy to `CONNECT host:port` (RFC 9110 §9.3.6), then speaks TLS to the target inside the tunnel, so the proxy
 * sees neither requests nor credentials, and the target's certificate is verified as on a direct connection
 * (same CA, same server name). Kept-alive tunnels are reused like direct sockets, one pool per target.
 *
 * Our own rather than `hpagent` (in the tree through `@kubernetes/client-node`): that one drops bytes the proxy
 * sends after its answer, writes an IPv6 target without brackets, and tunnels plain-HTTP targets too, which
 * proxies commonly refuse (Squid's default allows CONNECT to port 443 only; see `sendRequest` for how those go).
 * Node's own proxy support (`proxyEnv`, Node 24) cannot take a kubeconfig's `proxy-url` per cluster.
 */
export class TunnelAgent extends HttpsAgent {
  readonly #proxy: URL;
  readonly #authorization: string | undefined;

  constructor(proxy: URL, options: HttpsAgentOptions) {
    super(options);
    this.#proxy = proxy;
    this.#authorization = proxyAuthorization(proxy);
  }

  override createConnection(
    options: Parameters<HttpsAgent['createConnection']>[0],
    callback?: (error: Error | null, stream: Duplex) => void,
  ): Duplex | null | undefined {
    const done = once(callback);
    const port = Number(options.port) || 443;
    const host = String(options.host ?? options.hostname ?? 'localhost');
    const authority = `${host.includes(':') ? `[${host}]` : host}:${port}`;
    const proxy = this.#proxy;
    const secureProxy = proxy.protocol === 'https:';
    const connect: ClientRequest = (secureProxy ? httpsRequest : httpRequest)({
      host: proxy.hostname.replace(/^\[(.*)\]$/, '$1'),
      port: Number(proxy.port) || (secureProxy ? 443 : 80),
      method: 'CONNECT',
      path: authority,
      agent: false,
      setHost: false,
      ...(this.options.lookup ? { lookup: this.options.lookup } : {}),
      headers: {
        host: authority,
        ...(this.#authorization === undefined ? {} : { 'proxy-authorization': this.#authorization }),
      },
      ...(secureProxy ? { servername: proxy.hostname } : {}),
    });
    const timer = setTimeout(
      () =>
        connect.destroy(
          new ProxyTunnelError(`proxy ${proxy.host} did not open a tunnel to ${authority} in time`),
        ),
      TUNNEL_TIMEOUT_MS,
    );
    // Node answers every response to CONNECT with 'connect', an error status too.
    connect.once('connect', (response: IncomingMessage, socket: Socket, head: Buffer) => {
      clearTimeout(timer);
      const status = response.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        socket.destroy();
        // The status only: the proxy's text is not ours to pass on.
        done(new ProxyTunnelError(`proxy ${proxy.host} refused a tunnel to ${authority} (${status})`));
        return;
      }
      // Bytes that came with the answer belong to the tunnel (a TLS server speaks after our hello, but be exact).
      if (head.length > 0) socket.unshift(head);
      // tls.connect over the tunnel: `socket` is a tls.connect option that https.RequestOptions does not declare.
      done(null, super.createConnection({ ...options, socket } as typeof options) as Duplex);
    });
    connect.once('error', (error) => {
      clearTimeout(timer);
      done(error);
    });
    connect.end();
    return undefined;
  }
}

/** `Proxy-Authorization: Basic ...` from the proxy URL's user and password (percent-decoded), if it has any. */
export function proxyAuthorization(proxy: URL): string | undefined {
  if (proxy.username === '' && proxy.password === '') return undefined;
  const credentials = `${decodeURIComponent(proxy.username)}:${decodeURIComponent(proxy.password)}`;
  return `Basic ${Buffer.from(credentials).toString('base64')}`;
}

function once(
  callback: ((error: Error | null, stream: Duplex) => void) | undefined,
): (error: Error | null, stream?: Duplex) => void {
  let called = false;
  return (error, stream) => {
    if (called) return;
    called = true;
    callback?.(error, stream as Duplex);
  };
}
