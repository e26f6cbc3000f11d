import type { IncomingMessage } from 'node:http';

/** How much of an unread request body is read and thrown away, and for how long, before the connection is closed. */
export interface DiscardLimits {
  readonly maxBytes: number;
  readonly timeoutMs: number;
}

/** As `@hono/node-server` does for the routes it serves, so that every route leaves a refused body alike. */
export const DISCARD_LIMITS: DiscardLimits = { maxBytes: 64 * 1024 * 1024, timeoutMs: 500 };

/**
 * Once a request is answered, the rest of a body nobody read (a delivery refused before it was read): read and
 * dropped, so that a client still sending can finish and keep its connection, but no more than `maxBytes` nor for
 * longer than `timeoutMs`; past either the connection is closed. Nothing of it is kept. A body whose reading was
 * stopped (paused at the size cap) is not worth reading on: its connection is closed at once.
 */
export function discardUnreadBody(incoming: IncomingMessage, limits: DiscardLimits = DISCARD_LIMITS): void {
  if (incoming.readableEnded || incoming.destroyed) return;
  if (incoming.readableFlowing === false) {
    incoming.socket?.destroySoon();
    return;
  }
  let bytes = 0;
  const stop = () => {
    clearTimeout(timer);
    incoming.off('data', count);
    incoming.off('end', stop);
    incoming.off('error', stop);
  };
  const close = () => {
    stop();
    incoming.socket?.destroySoon();
  };
  const count = (chunk: Buffer) => {
    bytes += chunk.length;
    if (bytes > limits.maxBytes) close();
  };
  const timer = setTimeout(close, limits.timeoutMs);
  timer.unref();
  incoming.on('data', count);
  incoming.on('end', stop);
  incoming.on('error', stop);
  incoming.resume();
}
