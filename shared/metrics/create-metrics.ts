import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/** Reads the number of unfinished runner Jobs from the Kubernetes API when `/metrics` is scraped. */
export type ActiveRunnerCounter = () => Promise<number>;

/** The function's metrics, registered in a registry of their own (one per app, so tests never share). */
export interface Metrics {
  /** Every metric: what `GET /metrics` serves. */
  readonly registry: Registry;
  /** Counters and histograms of this process: pushed under a per-instance grouping key, summed across instances. */
  readonly instanceRegistry: Registry;
  /** Gauges of shared state (the cluster's active runners, GitHub's rate limit): pushed to one group, last wins. */
  readonly clusterRegistry: Registry;
  /** Every answered webhook request. `owner`/`repo` are empty until a signed payload names them. */
  readonly webhookRequests: Counter<'status' | 'owner' | 'repo'>;
  readonly webhookLatency: Histogram<string>;
  readonly runnerJobsCreated: Counter<'owner' | 'repo'>;
  /** Unfinished Jobs labelled `app=github-runner`, read from the API server at scrape time. */
  readonly runnerJobsActive: Gauge<string>;
  /** `endpoint` is a route template such as `GET /repos/{owner}/{repo}/actions/jobs/{job_id}`. */
  readonly githubApiRequests: Counter<'endpoint' | 'status'>;
  readonly githubRateLimitRemaining: Gauge<'credential'>;
}

export interface MetricsOptions {
  readonly countActiveRunners?: ActiveRunnerCounter;
  /** Called when counting active runners fails; the gauge then keeps its last value. */
  readonly onCollectError?: (error: unknown) => void;
}

/**
 * Creates the six metrics of the design. Label values are bounded: HTTP status codes, route templates, and the
 * owners and repositories that send signed deliveries.
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const instanceRegistry = new Registry();
  const clusterRegistry = new Registry();
  const perInstance = [registry, instanceRegistry];
  const shared = [registry, clusterRegistry];
  const { countActiveRunners, onCollectError } = options;
  return {
    registry,
    instanceRegistry,
    clusterRegistry,
    webhookRequests: new Counter({
      name: 'webhook_requests_total',
      help: 'Webhook requests answered, by HTTP status and repository',
      labelNames: ['status', 'owner', 'repo'] as const,
      registers: perInstance,
    }),
    webhookLatency: new Histogram({
      name: 'webhook_latency_seconds',
      help: 'Time from receiving a webhook request to answering it',
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: perInstance,
    }),
    runnerJobsCreated: new Counter({
      name: 'runner_jobs_created_total',
      help: 'Runner Jobs created, by repository',
      labelNames: ['owner', 'repo'] as const,
      registers: perInstance,
    }),
    runnerJobsActive: new Gauge({
      name: 'runner_jobs_active',
      help: 'Runner Jobs (app=github-runner) that have not finished, as the Kubernetes API reports them',
      registers: shared,
      async collect() {
        if (countActiveRunners === undefined) return;
        try {
          this.set(await countActiveRunners());
        } catch (error) {
          onCollectError?.(error);
        }
      },
    }),
    githubApiRequests: new Counter({
      name: 'github_api_requests_total',
      help: 'GitHub REST API requests, by route template and HTTP status',
      labelNames: ['endpoint', 'status'] as const,
      registers: perInstance,
    }),
    githubRateLimitRemaining: new Gauge({
      name: 'github_api_rate_limit_remaining',
      help: 'Requests left in the current GitHub rate-limit window (x-ratelimit-remaining), by credential',
      labelNames: ['credential'] as const,
      registers: shared,
    }),
  };
}

/** Counts every GitHub answer by route template and status, and tracks each credential's remaining rate limit. */
export function observeGitHub(metrics: Metrics) {
  return (endpoint: string, status: number, headers: Record<string, unknown>, credential: string): void => {
    metrics.githubApiRequests.inc({ endpoint, status: String(status) });
    const remaining = Number(headers['x-ratelimit-remaining']);
    if (headers['x-ratelimit-remaining'] !== undefined && Number.isFinite(remaining)) {
      metrics.githubRateLimitRemaining.set({ credential }, remaining);
    }
  };
}
