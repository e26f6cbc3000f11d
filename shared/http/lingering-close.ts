import type { IncomingMessage, ServerResponse } from 'node:http';

/** How long a refused request's connection is kept open after its answer, and how much of its body is read. */
export interface LingerLimits {
  /** After this, the connection is closed, whatever is still arriving. */
  readonly timeoutMs: number;
  /** Past this, nothing more is read: the sender's writes wait in the kernel's buffers, and it can still read. */
  readonly maxBytes: number;
}

/**
 * 2 s and 256 KiB. Time is what a sender needs to read its answer: one that writes all its body before it reads
 * (GitHub does) and one whose process is busy both read it well within 2 s, also well inside the 5 s request
 * timeout (`server-options.ts`), after which Node closes the connection anyway. Bytes are what the function pays:
 * each byte read is a buffer the garbage collector frees later, and V8 collects such buffers only after some 64 MiB
 * of them, so 50 hostile senders each read in full (4 MB apiece fill the kernel's buffers on loopback) took the
 * process from 66 to 160 MiB, over the Service's 128 MiB request. 256 KiB is the default size cap
 * (WEBHOOK_MAX_BODY_BYTES): a refused body of a size the function would read is read to its end, and the kernel's
 * buffers (on Linux they grow to some MB) take more while the sender reads its answer.
 */
export const LINGER_LIMITS: LingerLimits = { timeoutMs: 2000, maxBytes: 256 * 1024 };

/**
 * Ends a response whose answer (sent with `Connection: close`) refuses a request before its body has all arrived,
 * once the rest of the body has been read and dropped, or at `timeoutMs`; Node then closes the connection.
 *
 * Closing a socket while bytes are still arriving makes the kernel answer them with a reset, and the sender's next
 * write then fails before it has read the answer: GitHub's Recent Deliveries would show a connection failure
 * instead of "401: signature mismatch". So the connection lingers, as nginx's lingering close does (and as RFC 9112
 * section 9.6 asks of a server that closes): the body is read and dropped, and once `maxBytes` of it have been
 * read, no more is (the sender's writes then wait, and it still reads its answer), until the body ends, the sender
 * goes away, or the time is up. Nothing of the body is kept.
 * https://datatracker.ietf.org/doc/html/rfc9112#section-9.6
 */
export function endAfterLinger(
  incoming: IncomingMessage,
  outgoing: ServerResponse,
  limits: LingerLimits = LINGER_LIMITS,
): void {
  let bytes = 0;
  const stop = () => {
    clearTimeout(timer);
    incoming.off('data', count);
    incoming.off('end', end);
    outgoing.off('close', stop);
  };
  const end = () => {
    stop();
    if (!outgoing.writableEnded && !outgoing.destroyed) outgoing.end();
  };
  const count = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > limits.maxBytes) incoming.pause();
  };
  const timer = setTimeout(end, limits.timeoutMs);
  timer.unref();
  incoming.on('data', count);
  incoming.once('end', end);
  // The sender went away: nothing left to end.
  outgoing.once('close', stop);
  incoming.resume();
}
