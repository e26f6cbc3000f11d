/**
 * The function's metrics. Longer than 250 lines on purpose: every metric's definition, its bounded labels and what
 * the push adapter reads of it sit in one file, so a reader checks the exported set in one place.
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import { cachedCount } from './cached-count.js';
import { createLabelLimit } from './label-limit.js';
import { METRICS_DEFAULTS } from './metrics-config.js';

/** Reads the number of unfinished runner Jobs from the Kubernetes API. */
export type ActiveRunnerCounter = () => Promise<number>;

/** A counter as the function's code uses it: add to one series. */
export interface CounterOf<L extends string> {
  inc(labels: Record<L, string>, value?: number): void;
}

/** A counter series as the push adapter reads it: its labels and its total so far in this process. */
export interface CounterSeries {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A gauge series set since the last push. */
export interface GaugeSeries {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** The function's metrics, in a registry of their own (one per app, so tests never share). */
export interface Metrics {
  /** Every metric: what `GET /metrics` serves. */
  readonly registry: Registry;
  /** Every answered webhook request. `owner`/`repo` are empty until a signed payload names them. */
  readonly webhookRequests: CounterOf<'status' | 'owner' | 'repo'>;
  readonly webhookLatency: { startTimer(): () => number };
  readonly runnerJobsCreated: CounterOf<'owner' | 'repo'>;
  /** Jobs given up for an answer of GitHub's that asking again cannot change (400/404/422): `status` is GitHub's. */
  readonly runnerJobsRefused: CounterOf<'owner' | 'repo' | 'status'>;
  /**
   * Queued jobs whose runner waits because no node of the cluster has the OS and architecture they ask for
   * (`os`, `arch`: node label values, a handful). Counted once a job, by the delivery that recorded it.
   */
  readonly runnerJobsWaitingForNode: CounterOf<'os' | 'arch'>;
  /**
   * Runners GitHub refused for their version (exit 7), by runner profile (the configured profiles: a handful).
   * Counted once a runner, by the reconcile pass that found it; such a runner is not replaced.
   */
  readonly runnerOutdated: CounterOf<'profile'>;
  /** Lookups of GitHub's runner releases that failed: profiles that follow releases ran the last one known. */
  readonly runnerReleaseLookupFailures: CounterOf<never>;
  /**
   * When GitHub stops sending jobs to each pinned profile's runner version (seconds since the epoch), for the
   * profiles older than GitHub's newest release: the whole set, as the last report found it (others are dropped).
   */
  readonly runnerVersionDeadlines: {
    set(deadlines: readonly { readonly profile: string; readonly seconds: number }[]): void;
  };
  /** `endpoint` is a route template such as `GET /repos/{owner}/{repo}/actions/jobs/{job_id}`. */
  readonly githubApiRequests: CounterOf<'endpoint' | 'status'>;
  readonly githubRateLimitRemaining: { set(labels: { credential: string }, value: number): void };
  /** Queued records that wait for GitHub (a credential paused, or its budget spent), as a settling last found. */
  readonly waitingForGitHub: { set(value: number): void };
  /**
   * Records waiting, by what they wait for (`github`, `cap`, `node`, `queued`, `starting`), and the oldest wait of
   * each in seconds, as the last settling (reconcile, a finished runner) found them.
   */
  readonly recordsWaiting: { set(reason: string, count: number, oldestSeconds: number): void };
  /** Seconds from a job's record (its queued delivery) to its runner's registration. */
  readonly queuedToRegistered: { observe(seconds: number): void };
  /** GitHub's time from a job's queueing to its start on one of our runners (`started_at - created_at`). */
  readonly jobQueued: { observe(labels: JobSeries, seconds: number): void };
  /** GitHub's time from a job's start on one of our runners to its end (`completed_at - started_at`). */
  readonly jobRunning: { observe(labels: JobSeries, seconds: number): void };
  /**
   * Our share of the wait: from our runner's start (its record resumed, the JIT config stored) to GitHub's
   * `started_at` for the job it took (the pod scheduled, its images pulled, the runner up and given the job).
   */
  readonly runnerStartup: { observe(labels: JobSeries, seconds: number): void };
  /** Jobs of our profiles GitHub reports completed, by conclusion (success, failure, cancelled, ...). */
  readonly jobsCompleted: CounterOf<keyof JobSeries | 'conclusion'>;
  /** Failed pushes: `retried` (nothing was sent; the increments go with the next push) or `dropped` (lost). */
  readonly pushFailures: CounterOf<'outcome'>;
  /** Unfinished runner Jobs as the API server reports them, read at most once per cache window. */
  activeRunners(): Promise<number | undefined>;
  /** Every counter series with its total in this process (for the push adapter to send the differences). */
  counterSeries(): Promise<CounterSeries[]>;
  /**
   * Starts keeping observations (latencies, registrations) and the gauges set, for the push adapter; each call
   * returns what was recorded since the previous one, and each credential's pause as it is now (a value that
   * falls with time, so it is read at every push rather than when set). Before the first call nothing is kept
   * (a scraped process keeps no backlog).
   */
  takeRecorded(): Recorded;
}

/** The labels of a job's series: its runner profile (a configured name) and its repository. */
export interface JobSeries {
  readonly profile: string;
  readonly owner: string;
  readonly repo: string;
}

/** What the push adapter takes at each push (`Metrics.takeRecorded`). */
export interface Recorded {
  /** `webhook_latency_seconds` observations. */
  readonly latencies: number[];
  /** `runner_queued_to_registered_seconds` observations. */
  readonly registrations: number[];
  readonly gauges: GaugeSeries[];
}

export interface MetricsOptions {
  readonly countActiveRunners?: ActiveRunnerCounter;
  /** Called when counting active runners fails; the gauge then keeps its last value. */
  readonly onCollectError?: (error: unknown) => void;
  readonly maxOwners?: number;
  readonly maxRepositories?: number;
  readonly activeCacheMs?: number;
  readonly now?: () => number;
  /** Each credential's pause as this instance knows it (`until` 0 or past: none), read at scrape time. */
  readonly credentialPauses?: () => readonly { credential: string; until: number }[];
}

/** Latency buckets of `webhook_latency_seconds` (the statsd_exporter mapping in knative/ uses the same). */
export const LATENCY_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Buckets of `runner_queued_to_registered_seconds`: a burst paced by GitHub's limits takes minutes. */
export const REGISTRATION_BUCKETS = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800];

/** Buckets of `runner_job_queued_seconds`: from seconds (a free runner) to an hour (a backlog). */
export const JOB_QUEUED_BUCKETS = [1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600];

/** Buckets of `runner_job_running_seconds`: from a lint job to GitHub's 6-hour limit. */
export const JOB_RUNNING_BUCKETS = [10, 30, 60, 120, 300, 600, 1200, 1800, 3600, 7200, 21600];

/** Buckets of `runner_startup_seconds`: a warm node in seconds, an image pull in a minute or more. */
export const RUNNER_STARTUP_BUCKETS = [1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600];

/** GitHub's job conclusions; any other value is counted as `other`. */
const CONCLUSIONS = new Set([
  'success',
  'failure',
  'cancelled',
  'skipped',
  'timed_out',
  'neutral',
  'action_required',
]);

/** Observations of each histogram kept between two pushes at most; more are dropped (counted as a dropped push). */
const MAX_RECORDED_OBSERVATIONS = 10_000;

/**
 * Creates the function's metrics. Label values are bounded: HTTP status codes, route templates, and the first
 * `maxOwners` owners and credentials and `maxRepositories` repositories that send signed deliveries (later ones are
 * counted under `other`).
 */
export function createMetrics(options: MetricsOptions = {}): Metrics {
  const registry = new Registry();
  const registers = [registry];
  const owners = createLabelLimit(options.maxOwners ?? METRICS_DEFAULTS.maxOwners);
  const credentials = createLabelLimit(options.maxOwners ?? METRICS_DEFAULTS.maxOwners);
  const repositories = createLabelLimit(options.maxRepositories ?? METRICS_DEFAULTS.maxRepositories);
  const repository = (owner: string, repo: string): { owner: string; repo: string } => {
    const keptOwner = owners(owner);
    if (keptOwner !== owner) return { owner: keptOwner, repo: keptOwner };
    const keptRepo = repositories(repo === '' ? '' : `${owner}/${repo}`);
    return { owner, repo: keptRepo === `${owner}/${repo}` ? repo : keptRepo };
  };
  const { countActiveRunners, onCollectError } = options;
  const activeRunners =
    countActiveRunners === undefined
      ? undefined
      : cachedCount(countActiveRunners, options.activeCacheMs ?? METRICS_DEFAULTS.activeCacheMs, options.now);

  const webhookRequests = new Counter({
    name: 'webhook_requests_total',
    help: 'Webhook requests answered, by HTTP status and repository',
    labelNames: ['status', 'owner', 'repo'] as const,
    registers,
  });
  const webhookLatency = new Histogram({
    name: 'webhook_latency_seconds',
    help: 'Time from receiving a webhook request to answering it',
    buckets: LATENCY_BUCKETS,
    registers,
  });
  const runnerJobsCreated = new Counter({
    name: 'runner_jobs_created_total',
    help: 'Runner Jobs created, by repository',
    labelNames: ['owner', 'repo'] as const,
    registers,
  });
  const runnerJobsRefused = new Counter({
    name: 'runner_jobs_refused_total',
    help: "Jobs given up for a GitHub answer that asking again cannot change (400/404/422), by repository and GitHub's status",
    labelNames: ['owner', 'repo', 'status'] as const,
    registers,
  });
  const runnerJobsWaitingForNode = new Counter({
    name: 'runner_jobs_waiting_for_node_total',
    help: 'Queued jobs whose runner waits because no node has the OS and architecture they ask for',
    labelNames: ['os', 'arch'] as const,
    registers,
  });
  const runnerOutdated = new Counter({
    name: 'runner_outdated_total',
    help: "Runners GitHub refused for their version (exit code 7), not replaced: pin a newer image or follow GitHub's releases",
    labelNames: ['profile'] as const,
    registers,
  });
  const runnerReleaseLookupFailures = new Counter({
    name: 'runner_release_lookup_failures_total',
    help: "Failed lookups of GitHub's runner releases: profiles that follow releases ran the last one known, or the pinned one",
    registers,
  });
  const runnerVersionDeadline = new Gauge({
    name: 'runner_version_deadline_timestamp_seconds',
    help: "When GitHub stops sending jobs to a pinned profile's runner version (30 days after the next release), for profiles older than GitHub's newest",
    labelNames: ['profile'] as const,
    registers,
  });
  new Gauge({
    name: 'runner_jobs_active',
    help: 'Runner Jobs (app=github-runner) that have not finished, as the Kubernetes API reports them',
    registers,
    async collect() {
      if (activeRunners === undefined) return;
      try {
        this.set(await activeRunners());
      } catch (error) {
        onCollectError?.(error);
      }
    },
  });
  const githubApiRequests = new Counter({
    name: 'github_api_requests_total',
    help: 'GitHub REST API requests, by route template and HTTP status',
    labelNames: ['endpoint', 'status'] as const,
    registers,
  });
  const githubRateLimitRemaining = new Gauge({
    name: 'github_api_rate_limit_remaining',
    help: 'Requests left in the current GitHub rate-limit window (x-ratelimit-remaining), by credential',
    labelNames: ['credential'] as const,
    registers,
  });
  const waitingForGitHub = new Gauge({
    name: 'runner_jobs_waiting_for_github',
    help: 'Queued records waiting for GitHub (a credential paused, or its budget spent), as the last settling found',
    registers,
  });
  const recordsWaiting = new Gauge({
    name: 'runner_jobs_waiting',
    help: 'Queued jobs waiting, by reason (github, cap, node, queued, starting), as the last settling found',
    labelNames: ['reason'] as const,
    registers,
  });
  const oldestWait = new Gauge({
    name: 'runner_jobs_oldest_wait_seconds',
    help: 'Seconds the oldest job waiting for each reason has waited since its record, as the last settling found',
    labelNames: ['reason'] as const,
    registers,
  });
  const queuedToRegistered = new Histogram({
    name: 'runner_queued_to_registered_seconds',
    help: "Time from a job's record (its queued delivery) to its runner's registration at GitHub",
    buckets: REGISTRATION_BUCKETS,
    registers,
  });
  const nowOf = options.now ?? Date.now;
  const pauses = (): GaugeSeries[] =>
    (options.credentialPauses?.() ?? []).map(({ credential, until }) => ({
      name: 'github_credential_pause_seconds',
      labels: { credential: credentials(credential) },
      value: Math.max(0, (until - nowOf()) / 1000),
    }));
  new Gauge({
    name: 'github_credential_pause_seconds',
    help: 'Seconds left before GitHub allows calls with the credential again (0: not paused), by credential',
    labelNames: ['credential'] as const,
    registers,
    collect() {
      for (const { labels, value } of pauses()) this.set(labels, value);
    },
  });
  // Labelled histograms, pushed as counters (their `_bucket`, `_sum` and `_count` series, `counterSeries`): each
  // new series is then seeded at 0 like any counter, and `increase()` over it counts its first observation too,
  // which a statsd histogram born at its first observation would not.
  const jobLabelNames = ['profile', 'owner', 'repo'] as const;
  const jobQueued = new Histogram({
    name: 'runner_job_queued_seconds',
    help: "GitHub's time from a job's queueing to its start on one of our runners (started_at - created_at)",
    labelNames: jobLabelNames,
    buckets: JOB_QUEUED_BUCKETS,
    registers,
  });
  const jobRunning = new Histogram({
    name: 'runner_job_running_seconds',
    help: "GitHub's time from a job's start on one of our runners to its end (completed_at - started_at)",
    labelNames: jobLabelNames,
    buckets: JOB_RUNNING_BUCKETS,
    registers,
  });
  const runnerStartup = new Histogram({
    name: 'runner_startup_seconds',
    help: "From our runner's start (its record resumed) to GitHub's start of the job it took",
    labelNames: jobLabelNames,
    buckets: RUNNER_STARTUP_BUCKETS,
    registers,
  });
  const jobsCompleted = new Counter({
    name: 'runner_jobs_completed_total',
    help: 'Jobs of our profiles GitHub reports completed, by profile, repository and conclusion',
    labelNames: [...jobLabelNames, 'conclusion'] as const,
    registers,
  });
  const jobSeries = (labels: JobSeries) => ({
    profile: labels.profile,
    ...repository(labels.owner, labels.repo),
  });
  const pushFailures = new Counter({
    name: 'metrics_push_failures_total',
    help: 'Failed metric pushes: retried (nothing sent, sent with the next push) or dropped (increments lost)',
    labelNames: ['outcome'] as const,
    registers,
  });
  const counters = [
    webhookRequests,
    runnerJobsCreated,
    runnerJobsRefused,
    githubApiRequests,
    pushFailures,
    runnerJobsWaitingForNode,
    runnerOutdated,
    runnerReleaseLookupFailures,
    jobsCompleted,
    jobQueued,
    jobRunning,
    runnerStartup,
  ];

  let recording = false;
  let latencies: number[] = [];
  let registrations: number[] = [];
  /** Keeps an observation for the push, while recording, up to the bound. */
  const keep = (observations: number[], seconds: number) => {
    if (!recording) return;
    if (observations.length < MAX_RECORDED_OBSERVATIONS) observations.push(seconds);
    else pushFailures.inc({ outcome: 'dropped' });
  };
  let gauges = new Map<string, GaugeSeries>();

  return {
    registry,
    webhookRequests: {
      inc: (labels, value) =>
        webhookRequests.inc({ status: labels.status, ...repository(labels.owner, labels.repo) }, value),
    },
    webhookLatency: {
      startTimer() {
        const stop = webhookLatency.startTimer();
        return () => {
          const seconds = stop();
          keep(latencies, seconds);
          return seconds;
        };
      },
    },
    runnerJobsCreated: {
      inc: (labels, value) => runnerJobsCreated.inc(repository(labels.owner, labels.repo), value),
    },
    runnerJobsRefused: {
      inc: (labels, value) =>
        runnerJobsRefused.inc({ status: labels.status, ...repository(labels.owner, labels.repo) }, value),
    },
    runnerJobsWaitingForNode: { inc: (labels, value) => runnerJobsWaitingForNode.inc(labels, value) },
    runnerOutdated: { inc: (labels, value) => runnerOutdated.inc(labels, value) },
    runnerReleaseLookupFailures: { inc: (_labels, value) => runnerReleaseLookupFailures.inc(value) },
    runnerVersionDeadlines: {
      set(deadlines) {
        runnerVersionDeadline.reset();
        for (const key of [...gauges.keys()]) if (key.startsWith('deadline:')) gauges.delete(key);
        for (const { profile, seconds } of deadlines) {
          runnerVersionDeadline.set({ profile }, seconds);
          if (recording) {
            gauges.set(`deadline:${profile}`, {
              name: 'runner_version_deadline_timestamp_seconds',
              labels: { profile },
              value: seconds,
            });
          }
        }
      },
    },
    githubApiRequests: { inc: (labels, value) => githubApiRequests.inc(labels, value) },
    githubRateLimitRemaining: {
      set({ credential }, value) {
        const labels = { credential: credentials(credential) };
        githubRateLimitRemaining.set(labels, value);
        if (recording)
          gauges.set(labels.credential, { name: 'github_api_rate_limit_remaining', labels, value });
      },
    },
    waitingForGitHub: {
      set(value) {
        waitingForGitHub.set(value);
        if (recording) {
          gauges.set('runner_jobs_waiting_for_github', {
            name: 'runner_jobs_waiting_for_github',
            labels: {},
            value,
          });
        }
      },
    },
    recordsWaiting: {
      set(reason, count, oldestSeconds) {
        recordsWaiting.set({ reason }, count);
        oldestWait.set({ reason }, oldestSeconds);
        if (recording) {
          const labels = { reason };
          gauges.set(`waiting ${reason}`, { name: 'runner_jobs_waiting', labels, value: count });
          gauges.set(`oldest ${reason}`, {
            name: 'runner_jobs_oldest_wait_seconds',
            labels,
            value: oldestSeconds,
          });
        }
      },
    },
    queuedToRegistered: {
      observe(seconds) {
        queuedToRegistered.observe(seconds);
        keep(registrations, seconds);
      },
    },
    jobQueued: { observe: (labels, seconds) => jobQueued.observe(jobSeries(labels), seconds) },
    jobRunning: { observe: (labels, seconds) => jobRunning.observe(jobSeries(labels), seconds) },
    runnerStartup: { observe: (labels, seconds) => runnerStartup.observe(jobSeries(labels), seconds) },
    jobsCompleted: {
      inc: (labels, value) =>
        jobsCompleted.inc(
          {
            ...jobSeries(labels),
            conclusion: CONCLUSIONS.has(labels.conclusion) ? labels.conclusion : 'other',
          },
          value,
        ),
    },
    pushFailures: { inc: (labels, value) => pushFailures.inc(labels, value) },
    async activeRunners() {
      return activeRunners?.();
    },
    async counterSeries() {
      const series: CounterSeries[] = [];
      for (const counter of counters) {
        const { name, values } = await counter.get();
        // A histogram's values are its `_bucket` (with `le`), `_sum` and `_count` series.
        for (const { labels, value, metricName } of values as {
          labels: object;
          value: number;
          metricName?: string;
        }[]) {
          const named = Object.entries(labels).map(([key, label]) => [key, String(label)]);
          series.push({ name: metricName ?? name, labels: Object.fromEntries(named), value });
        }
      }
      return series;
    },
    takeRecorded() {
      recording = true;
      const taken = { latencies, registrations, gauges: [...gauges.values(), ...pauses()] };
      latencies = [];
      registrations = [];
      gauges = new Map();
      return taken;
    },
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
