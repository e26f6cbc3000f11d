import type { Hmac } from 'node:crypto';
import { Readable } from 'node:stream';
import { PayloadError, PayloadTooLargeError } from '../errors/errors.js';

/**
 * Reads at most `maxBytes`, updating each HMAC as chunks arrive: from a Node stream (the server's request) by its
 * events, from any other async iterable (a web stream) by iterating it. At the cap the reading stops (a Node stream
 * is paused, an iterator left, not returned: returning it would destroy the socket before the 413 is written); the
 * server drops the rest.
 */
export function readCapped(
  source: AsyncIterable<Uint8Array> | null | undefined,
  maxBytes: number,
  hmacs: readonly Hmac[],
): Promise<Buffer> {
  if (source === null || source === undefined) return Promise.resolve(Buffer.alloc(0));
  if (source instanceof Readable) return readStream(source, maxBytes, hmacs);
  return readIterable(source, maxBytes, hmacs);
}

/** A Node stream's bytes by its events: no promise or iterator result per chunk, no end-of-stream tracking. */
function readStream(stream: Readable, maxBytes: number, hmacs: readonly Hmac[]): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let total = 0;
    const settle = (error?: Error) => {
      stream.off('data', onData);
      stream.off('end', onEnd);
      stream.off('error', onFailure);
      stream.off('close', onFailure);
      if (error === undefined) resolve(Buffer.concat(chunks, total));
      else reject(error);
    };
    const onData = (chunk: Buffer) => {
      total += chunk.byteLength;
      if (total > maxBytes) {
        stream.pause();
        settle(tooLarge(maxBytes));
        return;
      }
      for (const hmac of hmacs) hmac.update(chunk);
      chunks.push(chunk);
    };
    const onEnd = () => settle();
    // The sender went away, or the server's request timeout closed a stalled body: nothing to answer to.
    const onFailure = () => settle(new PayloadError('the request body was not received in full'));
    if (stream.readableEnded) {
      resolve(Buffer.alloc(0));
      return;
    }
    if (stream.destroyed) {
      onFailure();
      return;
    }
    stream.on('data', onData);
    stream.on('end', onEnd);
    stream.on('error', onFailure);
    stream.on('close', onFailure);
  });
}

async function readIterable(
  source: AsyncIterable<Uint8Array>,
  maxBytes: number,
  hmacs: readonly Hmac[],
): Promise<Buffer> {
  const chunks: Uint8Array[] = [];
  let total = 0;
  const iterator = source[Symbol.asyncIterator]();
  for (;;) {
    let next: IteratorResult<Uint8Array>;
    try {
      next = await iterator.next();
    } catch {
      // The sender went away, or the server's request timeout closed a stalled body: nothing to answer to.
      throw new PayloadError('the request body was not received in full');
    }
    const { done, value } = next;
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) throw tooLarge(maxBytes);
    for (const hmac of hmacs) hmac.update(value);
    chunks.push(value);
  }
  return Buffer.concat(chunks, total);
}

/** The refusal of a body over the cap. */
export function tooLarge(maxBytes: number): PayloadTooLargeError {
  return new PayloadTooLargeError(
    `payload too large: over ${maxBytes} bytes (WEBHOOK_MAX_BODY_BYTES); a workflow_job delivery is about 11 KB`,
  );
}
