import { describe, expect, it } from 'vitest';
import { deadlineIn, withRetries } from '../shared/retry/with-retries.js';

const retryAll = () => ({});
const noSleep = async () => {};

describe('withRetries', () => {
  it('returns the first success', async () => {
    let tries = 0;
    const value = await withRetries(
      async () => {
        tries += 1;
        if (tries < 3) throw new Error('flaky');
        return 'ok';
      },
      { deadline: deadlineIn(5000), advise: retryAll, sleep: noSleep },
    );
    expect(value).toBe('ok');
    expect(tries).toBe(3);
  });

  it('does not retry what the advice calls final', async () => {
    let tries = 0;
    const failing = withRetries(
      async () => {
        tries += 1;
        throw new Error('final');
      },
      { deadline: deadlineIn(5000), advise: () => undefined, sleep: noSleep },
    );
    await expect(failing).rejects.toThrow('final');
    expect(tries).toBe(1);
  });

  it('waits what the server asked, and gives up when that passes the deadline', async () => {
    const waits: number[] = [];
    let tries = 0;
    const failing = withRetries(
      async () => {
        tries += 1;
        throw new Error('busy');
      },
      {
        deadline: deadlineIn(3000),
        advise: () => ({ afterMs: 1000 }),
        random: () => 0,
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
    );
    await expect(failing).rejects.toThrow('busy');
    // The clock does not move with a fake sleep, so every 1 s wait fits a 3 s deadline until the try cap (8).
    expect(waits).toEqual(Array(7).fill(1000));
    expect(tries).toBe(8);
    const short = withRetries(
      async () => {
        throw new Error('slow down');
      },
      { deadline: deadlineIn(500), advise: () => ({ afterMs: 1000 }), sleep: noSleep },
    );
    await expect(short).rejects.toThrow('slow down');
  });

  it('backs off exponentially with jitter, capped', async () => {
    const waits: number[] = [];
    let tries = 0;
    await withRetries(
      async () => {
        tries += 1;
        if (tries < 6) throw new Error('again');
        return true;
      },
      {
        deadline: deadlineIn(60_000),
        advise: retryAll,
        baseDelayMs: 100,
        maxDelayMs: 1000,
        random: () => 1,
        sleep: async (ms) => {
          waits.push(ms);
        },
      },
    );
    expect(waits).toEqual([100, 200, 400, 800, 1000]);
  });
});
