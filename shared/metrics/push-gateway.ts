import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { Logger } from '../log/create-logger.js';
import type { Metrics } from './create-metrics.js';

/** Pushes the metrics to a Prometheus Pushgateway, for a function that scales to zero and cannot be scraped. */
export interface PushGateway {
  /** Pushes soon (debounced). Never waits and never throws: the webhook answer does not wait for metrics. */
  schedule(): void;
  /** Pushes now; resolves within the timeout whatever happens (for shutdown). */
  flush(): Promise<void>;
}

export interface PushGatewayOptions {
  readonly url: string;
  readonly job: string;
  readonly metrics: Metrics;
  readonly log: Logger;
  /** This process's grouping key; unique per process start (see `instanceId`). */
  readonly instance?: string;
  readonly debounceMs?: number;
  readonly timeoutMs?: number;
  readonly fetch?: typeof fetch;
}

/**
 * A grouping key unique to this process start. A pushgateway keeps each group's last push forever and a PUT
 * replaces the whole group, so a restarted process must not reuse its predecessor's key: its counters start again
 * from zero and would overwrite the totals already counted. Summing over instances then gives the true totals.
 */
export function instanceId(): string {
  return `${hostname()}-${randomBytes(4).toString('hex')}`;
}

/**
 * The push design: counters and histograms go to `job/<job>/instance/<unique per process>`, so that many
 * short-lived instances add up with `sum(...)`/`sum(rate(...))` over `instance`. Gauges of shared state go to
 * `job/<job>` with no instance, so the latest push wins and nothing is counted twice.
 * https://github.com/prometheus/pushgateway#about-the-job-and-instance-labels
 */
export function createPushGateway(options: PushGatewayOptions): PushGateway {
  const { metrics, log, debounceMs = 1000, timeoutMs = 2000 } = options;
  const doFetch = options.fetch ?? fetch;
  const base = `${options.url.replace(/\/+$/, '')}/metrics/job/${encodeURIComponent(options.job)}`;
  const instance = options.instance ?? instanceId();
  let timer: NodeJS.Timeout | undefined;
  let pushing: Promise<void> = Promise.resolve();

  async function put(url: string, body: string): Promise<void> {
    const response = await doFetch(url, {
      method: 'PUT',
      headers: { 'content-type': 'text/plain; version=0.0.4' },
      body,
      signal: AbortSignal.timeout(timeoutMs),
    });
    if (!response.ok)
      throw new Error(
        `pushgateway answered HTTP ${response.status}: ${(await response.text()).slice(0, 200)}`,
      );
  }

  async function push(): Promise<void> {
    try {
      await put(`${base}/instance/${encodeURIComponent(instance)}`, await metrics.instanceRegistry.metrics());
      await put(base, await metrics.clusterRegistry.metrics());
    } catch (error) {
      log.warn({ err: error }, 'could not push metrics to the pushgateway');
    }
  }

  const pushInOrder = (): Promise<void> => {
    pushing = pushing.then(push);
    return pushing;
  };

  return {
    schedule() {
      if (timer !== undefined) return;
      timer = setTimeout(() => {
        timer = undefined;
        void pushInOrder();
      }, debounceMs);
      timer.unref();
    },
    async flush() {
      if (timer !== undefined) clearTimeout(timer);
      timer = undefined;
      await Promise.race([
        pushInOrder(),
        new Promise((resolve) => setTimeout(resolve, timeoutMs * 2 + 100).unref()),
      ]);
    },
  };
}
