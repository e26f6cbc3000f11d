import { createEnvReader, type Env } from '../config/env-reader.js';

/** How the function exports its metrics: what `loadConfig` reads into `config.metrics`. */
export interface MetricsConfig {
  /**
   * `host:port` of a statsd_exporter's TCP listener to push increments to; unset: `/metrics` only (an always-on
   * deployment, scraped).
   */
  readonly statsdAddress: string | undefined;
  /**
   * Seconds a label set is pushed at 0 before its first increments are: longer than the receiver's scrape
   * interval, so that Prometheus sees every series begin at 0 and `increase()` counts its first increments.
   */
  readonly seedSeconds: number;
  /** Bearer token that `GET /metrics` requires; unset: `/metrics` is open. */
  readonly token: string | undefined;
  /** Distinct owners (and credentials) named in labels; later ones are counted under `other`. */
  readonly maxOwners: number;
  /** Distinct repositories named in labels; later ones are counted under `other`. */
  readonly maxRepositories: number;
  /** Milliseconds one count of active runner Jobs (one LIST) is served for. */
  readonly activeCacheMs: number;
}

/** The defaults of `MetricsConfig` (also what `createMetrics` uses when a test passes no limits). */
export const METRICS_DEFAULTS = Object.freeze({
  seedSeconds: 30,
  maxOwners: 50,
  maxRepositories: 200,
  activeCacheMs: 15_000,
});

/**
 * Reads `METRICS_*` from the environment; pushes every problem onto `problems` (loadConfig reports them all).
 * `METRICS_PUSHGATEWAY_URL` is refused with what replaces it: a Pushgateway keeps each group's last push, so a
 * counter from a short-lived instance is first seen above zero and `rate()`/`increase()` never count it.
 */
export function parseMetricsConfig(env: Env, problems: string[]): MetricsConfig {
  const { text, integer } = createEnvReader(env, problems);
  if (text('METRICS_PUSHGATEWAY_URL') !== undefined) {
    problems.push(
      'METRICS_PUSHGATEWAY_URL is no longer supported: set METRICS_STATSD_ADDRESS to a statsd_exporter (README, Metrics)',
    );
  }
  const statsdAddress = text('METRICS_STATSD_ADDRESS');
  if (
    statsdAddress !== undefined &&
    !/^[A-Za-z0-9.-]+:\d{1,5}$|^\[[0-9A-Fa-f:.]+\]:\d{1,5}$/.test(statsdAddress)
  ) {
    problems.push(
      `METRICS_STATSD_ADDRESS must be host:port (a statsd_exporter TCP listener), got "${statsdAddress}"`,
    );
  }
  return {
    statsdAddress,
    seedSeconds: integer('METRICS_SEED_SECONDS', METRICS_DEFAULTS.seedSeconds, 0, 3600),
    token: text('METRICS_TOKEN'),
    maxOwners: integer('METRICS_MAX_OWNERS', METRICS_DEFAULTS.maxOwners, 1, 10_000),
    maxRepositories: integer('METRICS_MAX_REPOSITORIES', METRICS_DEFAULTS.maxRepositories, 1, 100_000),
    activeCacheMs:
      integer('METRICS_ACTIVE_CACHE_SECONDS', METRICS_DEFAULTS.activeCacheMs / 1000, 1, 300) * 1000,
  };
}
