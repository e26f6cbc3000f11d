import { once } from 'node:events';
import { createServer, type IncomingMessage, request } from 'node:http';
import { type AddressInfo, connect, type Socket } from 'node:net';
import { createSecureContext, TLSSocket } from 'node:tls';

/** What passed through the proxy: one entry per CONNECT or forwarded request. */
export interface Passed {
  /** `CONNECT` for a tunnel, else the forwarded request's method. */
  readonly method: string;
  /** `host:port` of a tunnel, the absolute URL of a forwarded request. */
  readonly target: string;
  readonly proxyAuthorization: string | undefined;
  /** The Host header the client sent. */
  readonly host: string | undefined;
}

export interface ConnectProxyOptions {
  /** Answer CONNECT with this status instead of opening the tunnel (407: credentials required). */
  readonly refuse?: number;
  /**
   * Act as a man in the middle: answer CONNECT, then speak TLS itself with this certificate instead of tunnelling
   * to the target. A client that verifies the target's certificate refuses it.
   */
  readonly impostor?: { readonly key: Buffer; readonly cert: Buffer };
}

export interface ConnectProxy {
  readonly url: string;
  readonly passed: Passed[];
  /** Requests the impostor read inside a tunnel it should not have been trusted with. */
  readonly intercepted: string[];
  close(): void;
}

/**
 * A loopback HTTP proxy as corporate networks run them (Squid and the like): CONNECT opens a TCP tunnel, any
 * other method is forwarded from its absolute URL. Names under `.test` resolve to 127.0.0.1 here only, so a
 * client that bypassed the proxy could not reach them; it records everything that passed.
 */
export async function startConnectProxy(options: ConnectProxyOptions = {}): Promise<ConnectProxy> {
  const passed: Passed[] = [];
  const intercepted: string[] = [];
  const sockets = new Set<Socket>();
  const resolve = (host: string) => (host.endsWith('.test') ? '127.0.0.1' : host);
  const record = (req: IncomingMessage, target: string) =>
    passed.push({
      method: req.method ?? '',
      target,
      proxyAuthorization: req.headers['proxy-authorization'],
      host: req.headers.host,
    });

  const server = createServer((req, res) => {
    // Forwarding: the request line holds the absolute URL.
    const target = new URL(req.url ?? '');
    record(req, target.href);
    const { 'proxy-authorization': _credentials, ...headers } = req.headers;
    const upstream = request(
      {
        host: resolve(target.hostname),
        port: target.port,
        method: req.method,
        path: `${target.pathname}${target.search}`,
        headers,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      },
    );
    upstream.on('error', () => res.writeHead(502).end());
    req.pipe(upstream);
  });

  server.on('connect', (req: IncomingMessage, client: Socket, head: Buffer) => {
    const target = req.url ?? '';
    record(req, target);
    if (options.refuse !== undefined) {
      client.end(`HTTP/1.1 ${options.refuse} Refused\r\nContent-Length: 0\r\n\r\n`);
      return;
    }
    if (options.impostor !== undefined) {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      const tls = new TLSSocket(client, {
        isServer: true,
        secureContext: createSecureContext(options.impostor),
      });
      tls.on('data', (chunk: Buffer) => intercepted.push(chunk.toString()));
      tls.on('error', () => client.destroy());
      return;
    }
    const match = /^(.+):(\d+)$/.exec(target);
    const upstream = connect(Number(match?.[2]), resolve((match?.[1] ?? '').replace(/^\[(.*)\]$/, '$1')));
    sockets.add(upstream);
    upstream.once('connect', () => {
      client.write('HTTP/1.1 200 Connection Established\r\n\r\n');
      if (head.length > 0) upstream.write(head);
      upstream.pipe(client);
      client.pipe(upstream);
    });
    upstream.on('error', () => client.destroy());
    client.on('error', () => upstream.destroy());
    upstream.on('close', () => sockets.delete(upstream));
  });
  server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });

  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    passed,
    intercepted,
    close: () => {
      for (const socket of sockets) socket.destroy();
      server.close();
    },
  };
}
