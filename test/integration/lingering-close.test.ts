import { connect } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AppHarness, serveApp, startAppHarness } from '../support/app-harness.js';

/**
 * A server that refuses an upload early must let the sender read its answer: closing a socket while bytes of the
 * body are still arriving makes the kernel send a reset, and the sender's next write fails before it has read the
 * answer (GitHub's Recent Deliveries then shows a connection failure, not "401: signature mismatch"). Each sender
 * here keeps writing its body (16 KiB every 100 ms) and reads nothing for a second, as a busy sender does, then
 * reads; a server that closed the connection within that second has reset it by then.
 */
let h: AppHarness;
let server: { url: string; close: () => void };
let port: number;

beforeAll(async () => {
  h = await startAppHarness();
  server = await serveApp(h);
  port = Number(new URL(server.url).port);
});
afterAll(async () => {
  server.close();
  await h.close();
});

const WRONG = `sha256=${'0'.repeat(64)}`;

interface Sent {
  /** Everything read from the connection once reading began. */
  readonly answer: string;
  /** The error that ended the connection, if one did (EPIPE, ECONNRESET: the server reset it). */
  readonly error: string | undefined;
  /** Body bytes written before the connection ended or the answer was read in full. */
  readonly written: number;
  /** Milliseconds from connecting to the connection's close. */
  readonly closedAfterMs: number;
}

/**
 * Writes `head`, then `first` (if any), then a body chunk every 5 ms without reading; reads from `readAfterMs` on,
 * and once the whole answer is read stops writing and ends its side. Never reading (`readAfterMs` undefined), it
 * writes until the server closes the connection.
 */
function sendWhileRefused(options: {
  readonly port?: number;
  readonly head: string;
  readonly chunk: (bytes: Buffer) => Buffer;
  readonly first?: Buffer;
  readonly readAfterMs?: number;
  readonly chunkBytes?: number;
  readonly everyMs?: number;
}): Promise<Sent> {
  const { head, chunk, first, readAfterMs, chunkBytes = 16 * 1024, everyMs = 5 } = options;
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(options.port ?? port, '127.0.0.1');
    // Paused before it connects, nothing is read until resumed: the answer waits in the kernel's buffer.
    socket.pause();
    let answer = '';
    let error: string | undefined;
    let written = 0;
    let done = false;
    const body = Buffer.alloc(chunkBytes, 0x20);
    const write = (bytes: Buffer) => {
      if (done || socket.destroyed) return;
      written += bytes.length;
      socket.write(bytes);
    };
    socket.on('connect', () => {
      socket.write(head);
      if (first !== undefined) write(first);
    });
    const pump = setInterval(() => write(chunk(body)), everyMs);
    const reading = readAfterMs === undefined ? undefined : setTimeout(() => socket.resume(), readAfterMs);
    socket.on('data', (data) => {
      answer += data.toString('latin1');
      if (done || !wholeAnswer(answer)) return;
      done = true;
      clearInterval(pump);
      socket.end();
    });
    socket.on('error', (failure: NodeJS.ErrnoException) => {
      error ??= failure.code ?? failure.message;
    });
    socket.on('close', () => {
      clearInterval(pump);
      clearTimeout(reading);
      resolve({ answer, error, written, closedAfterMs: Date.now() - started });
    });
  });
}

/** An answer's head and as much body as its Content-Length says. */
function wholeAnswer(text: string): boolean {
  const end = text.indexOf('\r\n\r\n');
  if (end < 0) return false;
  const length = Number(/\r\ncontent-length: *(\d+)/i.exec(text.slice(0, end))?.[1] ?? 0);
  return text.length - end - 4 >= length;
}

const headOf = (headers: Record<string, string>) =>
  `POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n${Object.entries(headers)
    .map(([name, value]) => `${name}: ${value}\r\n`)
    .join('')}\r\n`;
const asIs = (bytes: Buffer) => bytes;
const asChunk = (bytes: Buffer) =>
  Buffer.concat([Buffer.from(`${bytes.length.toString(16)}\r\n`), bytes, Buffer.from('\r\n')]);

describe('a sender still writing when its delivery is refused reads the answer', () => {
  it('401 for a malformed signature header, refused before a byte of the 25 MB body is read', async () => {
    const sent = await sendWhileRefused({
      head: headOf({ 'Content-Length': String(25 * 1024 * 1024), 'X-Hub-Signature-256': 'sha256=00' }),
      chunk: asIs,
      readAfterMs: 1000,
      everyMs: 100,
    });
    expect(sent.answer).toMatch(/^HTTP\/1\.1 401 /);
    expect(sent.answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(sent.answer).toContain('malformed X-Hub-Signature-256 header');
    expect(sent.error).toBeUndefined();
  });

  it('413 for a declared length over the cap', async () => {
    const sent = await sendWhileRefused({
      head: headOf({ 'Content-Length': String(25 * 1024 * 1024), 'X-Hub-Signature-256': WRONG }),
      chunk: asIs,
      readAfterMs: 1000,
      everyMs: 100,
    });
    expect(sent.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent.answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(sent.error).toBeUndefined();
  });

  it('413 for a chunked body that reaches the cap', async () => {
    const sent = await sendWhileRefused({
      head: headOf({ 'Transfer-Encoding': 'chunked', 'X-Hub-Signature-256': WRONG }),
      // Past the 256 KiB cap at once; the rest as it goes.
      first: asChunk(Buffer.alloc(h.config.maxBodyBytes + 1024, 0x20)),
      chunk: asChunk,
      readAfterMs: 1000,
      everyMs: 100,
    });
    expect(sent.answer).toMatch(/^HTTP\/1\.1 413 /);
    expect(sent.answer).toMatch(/\r\nConnection: close\r\n/i);
    expect(sent.error).toBeUndefined();
    expect(h.logs.at(-1)).toMatchObject({ status: 413, outcome: 'refused' });
  });
});

describe('the linger is bounded', () => {
  const unsigned = headOf({ 'Content-Length': String(1024 ** 3) });

  it('closes the connection of a sender that never stops and never reads after 2 s', async () => {
    // 3.2 MB/s: the time bound, not the byte bound, ends it.
    const sent = await sendWhileRefused({ head: unsigned, chunk: asIs });
    expect(sent.closedAfterMs).toBeGreaterThanOrEqual(2000);
    expect(sent.closedAfterMs).toBeLessThan(4000);
    expect(h.logs.at(-1)).toMatchObject({ status: 401, outcome: 'refused' });
  });

  it('reads no more than its most bytes: a sender that goes on is held by its own writes, then closed', async () => {
    const limits = { timeoutMs: 1500, maxBytes: 256 * 1024 };
    const bounded = await serveApp(h, limits);
    try {
      const { accepted, closedAfterMs } = await floodWithoutReading(
        Number(new URL(bounded.url).port),
        unsigned,
        {
          at: [700, 1200],
        },
      );
      // The kernel's buffers on both sides were full by 700 ms: the server read nothing more.
      expect(accepted[0]).toBeGreaterThan(limits.maxBytes);
      expect(accepted[1]).toBe(accepted[0]);
      expect(closedAfterMs).toBeGreaterThanOrEqual(1500);
      expect(closedAfterMs).toBeLessThan(3500);
    } finally {
      bounded.close();
    }
  });
});

/**
 * Writes `head`, then body bytes as fast as the connection takes them (never reading), until the server closes it;
 * how many the kernel had accepted at each of `at` (milliseconds), and when the connection closed.
 */
function floodWithoutReading(
  to: number,
  head: string,
  options: { readonly at: readonly number[] },
): Promise<{ accepted: number[]; closedAfterMs: number }> {
  const started = Date.now();
  return new Promise((resolve) => {
    const socket = connect(to, '127.0.0.1');
    socket.pause();
    const chunk = Buffer.alloc(64 * 1024, 0x20);
    const accepted: number[] = [];
    const timers = options.at.map((ms) =>
      setTimeout(() => accepted.push(socket.bytesWritten - socket.writableLength), ms),
    );
    const pump = () => {
      while (!socket.destroyed && socket.write(chunk));
      if (!socket.destroyed) socket.once('drain', pump);
    };
    socket.on('connect', () => {
      socket.write(head);
      pump();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      for (const timer of timers) clearTimeout(timer);
      resolve({ accepted, closedAfterMs: Date.now() - started });
    });
  });
}
