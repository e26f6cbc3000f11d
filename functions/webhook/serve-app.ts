import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { endAfterLinger, LINGER_LIMITS, type LingerLimits } from '../../shared/http/lingering-close.js';
import type { WebhookRoute } from './webhook-route.js';

/**
 * The function's HTTP server: a delivery (`POST /webhook` or `POST /`) goes to `webhook` straight from `node:http`,
 * every other request to the Hono app through `@hono/node-server`. The app routes the same webhook, with the same
 * answers; serving it directly spares each delivery a WHATWG Request and its Headers, a Hono context and a
 * Response, which were a tenth of the function's own CPU under a burst (docs/performance.md). A delivery refused
 * before its body has all arrived is answered with `Connection: close`, and the connection closed only once the
 * rest has been read and dropped, within `linger` (`lingering-close.ts`).
 */
export function createAppServer(
  app: { fetch: (request: Request, env: unknown) => Response | Promise<Response> },
  webhook: WebhookRoute,
  options: ServerOptions,
  linger: LingerLimits = LINGER_LIMITS,
): Server {
  const others = getRequestListener(app.fetch);
  return createServer(options, (incoming, outgoing) => {
    if (incoming.method === 'POST' && isWebhookPath(incoming.url))
      void serveWebhook(webhook, incoming, outgoing, linger);
    else void others(incoming, outgoing);
  });
}

/** The app's webhook paths, `/webhook` and `/`, with or without a query, as Hono's router matches them. */
function isWebhookPath(url: string | undefined): boolean {
  if (url === undefined) return false;
  const query = url.indexOf('?');
  const path = query < 0 ? url : url.slice(0, query);
  return path === '/webhook' || path === '/';
}

async function serveWebhook(
  webhook: WebhookRoute,
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  linger: LingerLimits,
) {
  let status: number;
  let text: string | undefined;
  try {
    const answer = await webhook({ header: (name) => headerOf(incoming, name), body: incoming });
    status = answer.status;
    text = JSON.stringify(answer.body);
  } catch (error) {
    // The route answers every failure itself; this is a defect, answered as @hono/node-server answers one.
    console.error(error);
    status = 500;
  }
  if (outgoing.headersSent || outgoing.destroyed) return;
  // A body that has all arrived (every delivery answered after reading it, and a small refused one) leaves the
  // connection open for the next request; Node drops what was not read.
  if (incoming.complete) {
    if (text === undefined) outgoing.writeHead(status).end();
    else outgoing.writeHead(status, jsonHeaders(text)).end(text);
    return;
  }
  outgoing.writeHead(status, {
    ...(text === undefined ? { 'Content-Length': 0 } : jsonHeaders(text)),
    Connection: 'close',
  });
  if (text === undefined) outgoing.flushHeaders();
  else outgoing.write(text);
  endAfterLinger(incoming, outgoing, linger);
}

function jsonHeaders(text: string) {
  return { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(text) };
}

/** A header as WHATWG `Headers.get` gives it: repeated values joined with a comma. */
function headerOf(incoming: IncomingMessage, name: string): string | undefined {
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
