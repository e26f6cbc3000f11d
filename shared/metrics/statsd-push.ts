import { connect, type Socket } from 'node:net';
import type { Logger } from '../log/create-logger.js';
import type { Metrics } from './create-metrics.js';
import { statsdLine } from './statsd-line.js';

/** Pushes the metrics of a short-lived process to a statsd_exporter, which adds them up for Prometheus. */
export interface MetricsPush {
  /** Pushes soon (debounced). Never waits and never throws: a delivery's answer does not wait for metrics. */
  schedule(): void;
  /**
   * Pushes what is left, waiting for young label sets' zeros to be scraped first, within `budgetMs`; then stops
   * pushing on its own (shutdown).
   */
  flush(budgetMs?: number): Promise<void>;
}

export interface StatsdPushOptions {
  /** `host:port` of the statsd_exporter's TCP listener. */
  readonly address: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** How long a new label set is pushed at 0 before its increments (more than the receiver's scrape interval). */
  readonly seedMs: number;
  readonly debounceMs?: number;
  /** Connect and send within this, or the push fails (and is retried or counted as dropped). */
  readonly timeoutMs?: number;
  /** Pushes at least this often while the process lives: the active runner count, read from the cluster. */
  readonly heartbeatMs?: number;
  readonly now?: () => number;
}

type Sent = 'sent' | 'unreachable' | 'broken';

/**
 * The push design. statsd_exporter keeps one long-lived series per label set and adds every increment it
 * receives, whichever process sent it: so counters from many short-lived, concurrent instances add up to series
 * that only grow, which is what `rate()` and `increase()` are made for. Each push sends the difference between a
 * counter's total in this process and what was already sent, so nothing is counted twice.
 *
 * Prometheus (before created-timestamp ingestion) counts no increase for a series it first sees above 0. So the
 * first time this process meets a label set it sends `+0` for it, and holds its increments until `seedMs` later,
 * by which time the receiver has been scraped with the series at its old value (0 when new).
 *
 * A push that cannot connect sends nothing: its increments stay pending for the next push (`retried`). A push
 * that fails after connecting may have been read in part; its increments are not sent again (`dropped`), so a
 * failure can lose counts but never double them. Gauges are pushed only when set (a credential's rate limit
 * keeps its own series, last value wins), except what falls with time or lives outside this process, read at
 * each push: each credential's pause, and `runner_jobs_active` from the cluster. Histogram observations
 * (latencies, queued-to-registered times) are sent one line each.
 */
export function createStatsdPush(options: StatsdPushOptions): MetricsPush {
  const { metrics, log, seedMs, debounceMs = 1000, timeoutMs = 2000, heartbeatMs = 30_000 } = options;
  const now = options.now ?? Date.now;
  const [host, port] = splitAddress(options.address);
  /** Per counter series: the total already sent. */
  const sent = new Map<string, number>();
  /** Per counter series: when its 0 was sent. */
  const seeded = new Map<string, number>();
  /** Histogram lines not yet sent (kept when the receiver is unreachable). */
  let observations: string[] = [];
  let gauges = new Map<string, string>();
  let timer: NodeJS.Timeout | undefined;
  let timerAt = Number.POSITIVE_INFINITY;
  let pushing: Promise<number | undefined> = Promise.resolve(undefined);

  /** Sends what is due; returns when held increments become due, if any are held. */
  async function push(final: boolean): Promise<number | undefined> {
    const time = now();
    const lines: string[] = [];
    const seedsSent: string[] = [];
    const totalsSent: [string, number][] = [];
    let heldUntil: number | undefined;
    for (const series of await metrics.counterSeries()) {
      const key = `${series.name}${JSON.stringify(series.labels)}`;
      const seededAt = seedMs > 0 ? seeded.get(key) : time - seedMs;
      if (seededAt === undefined) {
        lines.push(statsdLine(series.name, 0, 'c', series.labels));
        seedsSent.push(key);
        heldUntil = Math.min(heldUntil ?? Number.POSITIVE_INFINITY, time + seedMs);
        continue;
      }
      const delta = series.value - (sent.get(key) ?? 0);
      if (delta <= 0) continue;
      if (!final && time < seededAt + seedMs) {
        heldUntil = Math.min(heldUntil ?? Number.POSITIVE_INFINITY, seededAt + seedMs);
        continue;
      }
      lines.push(statsdLine(series.name, delta, 'c', series.labels));
      totalsSent.push([key, series.value]);
    }
    const recorded = metrics.takeRecorded();
    for (const seconds of recorded.latencies) {
      observations.push(statsdLine('webhook_latency_seconds', seconds, 'h'));
    }
    for (const seconds of recorded.registrations) {
      observations.push(statsdLine('runner_queued_to_registered_seconds', seconds, 'h'));
    }
    for (const gauge of recorded.gauges) {
      gauges.set(
        `${gauge.name}${JSON.stringify(gauge.labels)}`,
        statsdLine(gauge.name, gauge.value, 'g', gauge.labels),
      );
    }
    lines.push(...observations, ...gauges.values());
    try {
      const active = await metrics.activeRunners();
      if (active !== undefined) lines.push(statsdLine('runner_jobs_active', active, 'g'));
    } catch (error) {
      log.warn({ err: error }, 'could not count active runner jobs for the metrics push');
    }
    if (lines.length === 0) return heldUntil;

    const outcome = await send(`${lines.join('\n')}\n`);
    if (outcome === 'unreachable') {
      metrics.pushFailures.inc({ outcome: 'retried' });
      log.warn(
        { receiver: options.address },
        'metrics receiver unreachable: the increments go with the next push',
      );
      return Math.min(heldUntil ?? Number.POSITIVE_INFINITY, now() + 5 * debounceMs);
    }
    if (outcome === 'broken') {
      metrics.pushFailures.inc({ outcome: 'dropped' });
      log.warn(
        { receiver: options.address },
        'metrics push failed after connecting: its increments are dropped',
      );
    }
    for (const key of seedsSent) seeded.set(key, time);
    for (const [key, total] of totalsSent) sent.set(key, total);
    observations = [];
    gauges = new Map();
    return heldUntil;
  }

  function send(text: string): Promise<Sent> {
    return new Promise((resolve) => {
      let connected = false;
      let settled = false;
      const socket: Socket = connect({ host, port });
      const settle = (outcome: Sent) => {
        if (settled) return;
        settled = true;
        clearTimeout(deadline);
        socket.destroy();
        resolve(outcome);
      };
      const deadline = setTimeout(() => settle(connected ? 'broken' : 'unreachable'), timeoutMs);
      socket.once('connect', () => {
        connected = true;
        socket.end(text);
      });
      socket.once('error', () => settle(connected ? 'broken' : 'unreachable'));
      // statsd_exporter reads to the end of what was sent, then closes its side: all lines were read.
      socket.once('close', (hadError) => settle(hadError || !connected ? 'unreachable' : 'sent'));
      socket.resume();
    });
  }

  const pushInOrder = (final: boolean): Promise<number | undefined> => {
    pushing = pushing.then(
      () => push(final),
      () => push(final),
    );
    return pushing;
  };

  function scheduleAt(at: number): void {
    if (timer !== undefined && timerAt <= at) return;
    if (timer !== undefined) clearTimeout(timer);
    timerAt = at;
    timer = setTimeout(
      () => {
        timer = undefined;
        timerAt = Number.POSITIVE_INFINITY;
        pushInOrder(false).then(
          (heldUntil) => {
            if (heldUntil !== undefined) scheduleAt(heldUntil);
          },
          (error: unknown) => log.warn({ err: error }, 'metrics push failed'),
        );
      },
      Math.max(0, at - now()),
    );
    timer.unref();
  }

  // Start recording latencies and gauges now, so that the first delivery's are pushed too.
  metrics.takeRecorded();
  const heartbeat = setInterval(() => scheduleAt(now()), heartbeatMs);
  heartbeat.unref();
  // A process woken by reconcile alone still reports the cluster's active runners.
  scheduleAt(now() + debounceMs);

  return {
    schedule() {
      scheduleAt(now() + debounceMs);
    },
    async flush(budgetMs = 5000) {
      clearInterval(heartbeat);
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      timerAt = Number.POSITIVE_INFINITY;
      const deadline = now() + budgetMs;
      // Not unref'd: at shutdown nothing else may keep the process alive while it waits (bounded by the budget).
      const wait = (ms: number) => new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
      const work = (async () => {
        // Seed the label sets not yet sent, wait for their zeros to be scraped if the budget allows, send the rest.
        const heldUntil = await pushInOrder(false);
        if (heldUntil !== undefined && heldUntil < deadline - timeoutMs) await wait(heldUntil - now());
        await pushInOrder(true);
      })();
      await Promise.race([work.catch(() => undefined), wait(budgetMs)]);
    },
  };
}

function splitAddress(address: string): [string, number] {
  const at = address.lastIndexOf(':');
  return [address.slice(0, at).replace(/^\[|\]$/g, ''), Number(address.slice(at + 1))];
}
