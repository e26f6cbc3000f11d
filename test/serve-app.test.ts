import { request as httpRequest } from 'node:http';
import { sign } from '@octokit/webhooks-methods';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { completedPayload, queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, serveApp, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

/**
 * The production server (`createAppServer`) calls the webhook route straight from node:http; the Hono app routes the
 * same route. Two harnesses, one served, one asked through `app.request`, get the same requests and must give the
 * same answers, log lines and metrics.
 */
let served: AppHarness;
let viaHono: AppHarness;
let server: { url: string; close: () => void };

beforeEach(async () => {
  served = await startAppHarness();
  viaHono = await startAppHarness();
  server = await serveApp(served);
});
afterEach(async () => {
  server.close();
  await served.close();
  await viaHono.close();
});

interface Sent {
  readonly method: string;
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly body?: string;
}

async function answerOf(response: Response) {
  const text = await response.text();
  return {
    status: response.status,
    contentType: response.headers.get('content-type'),
    body: text === '' ? undefined : (JSON.parse(text) as unknown),
  };
}

async function both(sent: Sent) {
  const init = { method: sent.method, headers: sent.headers, ...(sent.body ? { body: sent.body } : {}) };
  return {
    served: await answerOf(await fetch(`${server.url}${sent.path}`, init)),
    viaHono: await answerOf(await viaHono.app.request(sent.path, init)),
  };
}

/** The log lines without their time (and the random error id of a 5xx). */
const linesOf = (h: AppHarness) => h.logs.map(({ time: _time, errorId: _errorId, ...line }) => line);

const requestsCounted = async (h: AppHarness) =>
  (await (await h.app.request('/metrics')).text())
    .split('\n')
    .filter((line) => line.startsWith('webhook_requests_total'));

function knownJob(jobId: number) {
  const payload = queuedPayload({ jobId });
  for (const h of [served, viaHono]) h.github.addJob(payload.repository.full_name, payload.workflow_job);
  return payload;
}

describe('the production server answers deliveries as the Hono app does', () => {
  it('gives the same answers, log lines and metrics for good, repeated, refused and other deliveries', async () => {
    const created = await signedDelivery(knownJob(5101), WEBHOOK_SECRET);
    const onRoot = await signedDelivery(knownJob(5102), WEBHOOK_SECRET);
    const withQuery = await signedDelivery(knownJob(5103), WEBHOOK_SECRET);
    const cancelled = await signedDelivery(completedPayload(queuedPayload({ jobId: 5101 })), WEBHOOK_SECRET);
    const ping = await signedDelivery(queuedPayload({ jobId: 5104 }), WEBHOOK_SECRET, 'ping');
    const push = await signedDelivery(queuedPayload({ jobId: 5105 }), WEBHOOK_SECRET, 'push');
    const notJson = { ...created.headers, 'x-hub-signature-256': await sign(WEBHOOK_SECRET, '{"action":') };
    const forged = await signedDelivery(queuedPayload({ jobId: 5106 }), 'not the secret');
    const unsigned = { ...created.headers };
    delete unsigned['x-hub-signature-256'];
    const sends: Sent[] = [
      { method: 'POST', path: '/webhook', ...created },
      { method: 'POST', path: '/webhook', ...created },
      { method: 'POST', path: '/', ...onRoot },
      { method: 'POST', path: '/webhook?from=github', ...withQuery },
      { method: 'POST', path: '/webhook', ...cancelled },
      { method: 'POST', path: '/webhook', ...ping },
      { method: 'POST', path: '/webhook', ...push },
      { method: 'POST', path: '/webhook', headers: notJson, body: '{"action":' },
      { method: 'POST', path: '/webhook', ...forged },
      { method: 'POST', path: '/webhook', headers: unsigned, body: created.body },
      { method: 'POST', path: '/webhook/', ...created },
      { method: 'GET', path: '/webhook', headers: {} },
      { method: 'GET', path: '/health', headers: {} },
    ];
    const statuses: number[] = [];
    for (const sent of sends) {
      const answers = await both(sent);
      expect(answers.served, `${sent.method} ${sent.path}`).toEqual(answers.viaHono);
      statuses.push(answers.served.status);
    }
    // The requests do reach every branch: created, exists, cancelled, pong, ignored, 400, 401, 404.
    expect(statuses).toEqual([200, 200, 200, 200, 200, 200, 200, 400, 401, 401, 404, 404, 200]);
    expect(linesOf(served)).toEqual(linesOf(viaHono));
    expect(linesOf(served).length).toBeGreaterThan(8);
    expect(await requestsCounted(served)).toEqual(await requestsCounted(viaHono));
    expect(served.kubernetes.jobs.size).toBe(3);
  });
});

/** Sends a request on a socket of `agent`; resolves with the status, its Connection header and the socket. */
function send(url: string, headers: Record<string, string>, body: string, agent: import('node:http').Agent) {
  return new Promise<{ status: number; connection: string | undefined; socket: unknown }>(
    (resolve, reject) => {
      const req = httpRequest(`${url}/webhook`, { method: 'POST', headers, agent }, (response) => {
        response.resume();
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            connection: response.headers.connection,
            socket: req.socket,
          }),
        );
      });
      req.on('error', reject);
      req.end(body);
    },
  );
}

describe('a refused delivery over a kept-alive connection', () => {
  it('keeps the connection when the body was read (a wrong signature), and it serves the next delivery', async () => {
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const good = await signedDelivery(knownJob(5201), WEBHOOK_SECRET);
    const forged = await signedDelivery(queuedPayload({ jobId: 5201 }), 'not the secret');
    const refused = await send(server.url, forged.headers, forged.body, agent);
    const next = await send(server.url, good.headers, good.body, agent);
    agent.destroy();
    expect(refused).toMatchObject({ status: 401, connection: 'keep-alive' });
    expect(next.status).toBe(200);
    expect(next.socket).toBe(refused.socket);
  });

  it('closes it, after the answer, when the body was still arriving, and the next delivery is served', async () => {
    const { Agent } = await import('node:http');
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const good = await signedDelivery(knownJob(5202), WEBHOOK_SECRET);
    // Refused on its signature header before its body is read; 200 KB is more than one read of the server's
    // (64 KiB), so the rest of it has not all arrived.
    const refused = await send(
      server.url,
      { ...good.headers, 'x-hub-signature-256': 'sha256=00' },
      ' '.repeat(200_000),
      agent,
    );
    const next = await send(server.url, good.headers, good.body, agent);
    agent.destroy();
    expect(refused).toMatchObject({ status: 401, connection: 'close' });
    expect(next.status).toBe(200);
    expect(next.socket).not.toBe(refused.socket);
  });
});

describe('the production server reads a delivery from the Node request', () => {
  it('verifies a body that arrives in many chunks', async () => {
    const { headers, body } = await signedDelivery(knownJob(5301), WEBHOOK_SECRET);
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(`${server.url}/webhook`, { method: 'POST', headers }, (response) => {
        response.resume();
        resolve(response.statusCode ?? 0);
      });
      req.on('error', reject);
      // 1 KiB at a time, each written on its own turn of the event loop.
      let at = 0;
      const next = () => {
        if (at >= body.length) return void req.end();
        req.write(body.slice(at, at + 1024));
        at += 1024;
        setImmediate(next);
      };
      next();
    });
    expect(status).toBe(200);
    expect(served.kubernetes.jobs.size).toBe(1);
  });

  it('refuses a chunked body at the size cap with 413, and closes its connection', async () => {
    const { headers } = await signedDelivery(knownJob(5302), WEBHOOK_SECRET);
    const result = await new Promise<{ status: number; closed: boolean }>((resolve) => {
      let status = 0;
      const req = httpRequest(`${server.url}/webhook`, { method: 'POST', headers, agent: false });
      req.on('response', (response) => {
        status = response.statusCode ?? 0;
        response.resume();
      });
      req.on('error', () => undefined);
      req.on('close', () => resolve({ status, closed: true }));
      // Far past the 256 KiB cap, without a Content-Length; the server must not wait for the end of it.
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      let sent = 0;
      const pump = () => {
        while (sent < 64 * 1024 * 1024 && !req.destroyed) {
          sent += chunk.length;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
      };
      pump();
    });
    expect(result).toEqual({ status: 413, closed: true });
    expect(served.logs.at(-1)).toMatchObject({ status: 413, outcome: 'refused' });
  });

  it('answers nothing to a sender that goes away mid-body, and serves the next one', async () => {
    const { headers, body } = await signedDelivery(knownJob(5303), WEBHOOK_SECRET);
    await new Promise<void>((resolve) => {
      const req = httpRequest(`${server.url}/webhook`, { method: 'POST', headers, agent: false });
      req.on('error', () => resolve());
      req.write(body.slice(0, 100));
      setTimeout(() => req.destroy(), 50);
    });
    await expect.poll(() => served.logs.at(-1)).toMatchObject({ status: 400, outcome: 'refused' });
    const next = await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
    expect(next.status).toBe(200);
  });
});
