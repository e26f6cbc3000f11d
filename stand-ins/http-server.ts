import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface JsonRequest {
  readonly method: string;
  readonly url: URL;
  readonly headers: IncomingMessage['headers'];
  readonly body: unknown;
}
export interface JsonResponse {
  readonly status: number;
  readonly body: unknown;
  readonly headers?: Record<string, string>;
  /** Wait this long before answering (a slow server). */
  readonly delayMs?: number;
  /** Drop the connection instead of answering (a reset). */
  readonly reset?: boolean;
}

/**
 * A JSON server for the stand-ins: one handler, bodies parsed and answered as JSON. It listens on loopback, or on
 * `host` when pods must reach it: an address of the test node's own bridge, never one of another network.
 */
export async function startJsonServer(
  handle: (request: JsonRequest) => JsonResponse | Promise<JsonResponse>,
  host = '127.0.0.1',
): Promise<{ url: string; close: () => Promise<void> }> {
  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const text = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = text === '' ? undefined : JSON.parse(text);
      } catch {
        body = text;
      }
      const url = new URL(req.url ?? '/', 'http://stand-in');
      Promise.resolve(handle({ method: req.method ?? 'GET', url, headers: req.headers, body }))
        .then(async (answer) => {
          if (answer.delayMs) await new Promise((resolve) => setTimeout(resolve, answer.delayMs));
          if (answer.reset) {
            req.socket.destroy();
            return;
          }
          if (res.destroyed) return;
          res.writeHead(answer.status, {
            'content-type': 'application/json; charset=utf-8',
            ...answer.headers,
          });
          res.end(answer.body === undefined || answer.status === 204 ? '' : JSON.stringify(answer.body));
        })
        .catch((error: unknown) => {
          res.writeHead(500, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ message: String(error) }));
        });
    });
  });
  // Node's default. Not lower: its own agent keeps no socket whose server hints `timeout=1` (it takes a second off).
  server.keepAliveTimeout = 5000;
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://${host}:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
