import {
  createServer,
  type IncomingMessage,
  type Server,
  type ServerOptions,
  type ServerResponse,
} from 'node:http';
import { getRequestListener } from '@hono/node-server';
import { discardUnreadBody } from '../../shared/http/discard-unread-body.js';
import type { WebhookRoute } from './webhook-route.js';

/**
 * The function's HTTP server: a delivery (`POST /webhook` or `POST /`) goes to `webhook` straight from `node:http`,
 * every other request to the Hono app through `@hono/node-server`. The app routes the same webhook, with the same
 * answers; serving it directly spares each delivery a WHATWG Request and its Headers, a Hono context and a
 * Response, which were a tenth of the function's own CPU under a burst (docs/performance.md).
 */
export function createAppServer(
  app: { fetch: (request: Request, env: unknown) => Response | Promise<Response> },
  webhook: WebhookRoute,
  options: ServerOptions,
): Server {
  const others = getRequestListener(app.fetch);
  return createServer(options, (incoming, outgoing) => {
    if (incoming.method === 'POST' && isWebhookPath(incoming.url))
      void serveWebhook(webhook, incoming, outgoing);
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

async function serveWebhook(webhook: WebhookRoute, incoming: IncomingMessage, outgoing: ServerResponse) {
  outgoing.once('close', () => discardUnreadBody(incoming));
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
  if (text === undefined) {
    outgoing.writeHead(status).end();
    return;
  }
  outgoing.writeHead(status, {
    'Content-Type': 'application/json',
    'Content-Length': Buffer.byteLength(text),
  });
  outgoing.end(text);
}

/** A header as WHATWG `Headers.get` gives it: repeated values joined with a comma. */
function headerOf(incoming: IncomingMessage, name: string): string | undefined {
  const value = incoming.headers[name];
  return Array.isArray(value) ? value.join(', ') : value;
}
