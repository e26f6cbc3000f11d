import type { Config } from '../../shared/config/load-config.js';
import { createCredentialBudget } from '../../shared/github/credential-budget.js';
import { createCredentials } from '../../shared/github/credentials.js';
import { createGitHubClient } from '../../shared/github/github-client.js';
import { createRunnerReleases } from '../../shared/github/runner-releases.js';
import { createHttpFetch } from '../../shared/http/http-fetch.js';
import { createKubeApi } from '../../shared/kubernetes/kube-api.js';
import type { KubeConnection } from '../../shared/kubernetes/kube-connection.js';
import { createNodeReader } from '../../shared/kubernetes/node-platforms.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { createMetrics, observeGitHub } from '../../shared/metrics/create-metrics.js';
import { createStatsdPush, type MetricsPush } from '../../shared/metrics/statsd-push.js';
import { createBudgetLeases } from '../../shared/records/budget-leases.js';
import { createKubernetesRecordStore } from '../../shared/records/kubernetes-record-store.js';
import { createNamespacedCalls } from '../../shared/records/namespaced-calls.js';
import { createPauseLeases } from '../../shared/records/pause-leases.js';
import type { AppDeps } from './app.js';

export interface DepsInput {
  readonly config: Config;
  /** Where the API server is and how to authenticate to it (`loadKubeConnection`, or a test's kubeconfig). */
  readonly kubernetes: KubeConnection;
  readonly log: Logger;
  /** The clock, injectable for tests. */
  readonly now?: () => number;
}

/** The app's dependencies, and what the process must stop with them. */
export interface Deps extends AppDeps {
  readonly metricsPush: MetricsPush | undefined;
  /** Closes the keep-alive agents (tests; a process simply exits). */
  close(): void;
}

/**
 * The composition root: builds the real clients from the configuration. The entry (`main.ts`) and the tests
 * (`test/support/app-harness.ts`) both build the app's dependencies here, so there is one wiring.
 */
export function createDeps({ config, kubernetes, log, now }: DepsInput): Deps {
  const kubeApi = createKubeApi(kubernetes, config.proxy);
  const records = createKubernetesRecordStore(kubeApi, config.namespace);
  // Each credential's GitHub budget and its pause, shared by every process through a Lease each.
  const leases = createNamespacedCalls(kubeApi, config.namespace);
  const budget = createCredentialBudget(config.githubLimits, {
    pauses: createPauseLeases(leases),
    ledgers: createBudgetLeases(leases),
    onStoreError: (error) => log.warn({ err: error }, 'could not read or write a GitHub budget or pause'),
    ...(now ? { now } : {}),
  });
  const metrics = createMetrics({
    ...config.metrics,
    countActiveRunners: () => records.countActive(),
    credentialPauses: () =>
      budget.credentials().map((credential) => ({
        credential,
        until: budget.status(credential).pausedUntil ?? 0,
      })),
    onCollectError: (error) => log.warn({ err: error }, 'could not count active runner jobs'),
  });
  // GitHub is called through node:http(s) keep-alive agents, not the global (undici) fetch,
  // whose first use would cost every cold start ~40 ms. It implements what @octokit/request reads of a Response,
  // which is all these callers read: the one place it stands in for the global fetch's type.
  const httpFetch = createHttpFetch({ proxy: config.proxy });
  const fetch = httpFetch as unknown as typeof globalThis.fetch;
  const github = createGitHubClient({
    baseUrl: config.githubApiUrl,
    fetch,
    credentials: createCredentials(config.githubAuth, config.githubApiUrl, fetch),
    scope: config.runnerScope,
    observe: observeGitHub(metrics),
    budget,
  });
  const runnerReleases = createRunnerReleases({
    github,
    onFailure: (error, what) => {
      metrics.runnerReleaseLookupFailures.inc({});
      log.warn(
        { err: error, lookup: what },
        "could not read GitHub's runner releases; using the last one known",
      );
    },
    ...(now ? { now } : {}),
  });
  const metricsPush =
    config.metrics.statsdAddress === undefined
      ? undefined
      : createStatsdPush({
          address: config.metrics.statsdAddress,
          seedMs: config.metrics.seedSeconds * 1000,
          metrics,
          log,
        });
  return {
    config,
    github,
    budget,
    runnerReleases,
    records,
    metrics,
    nodes: createNodeReader(kubeApi, now ? { now } : {}),
    log,
    metricsPush,
    ...(metricsPush ? { afterDelivery: () => metricsPush.schedule() } : {}),
    ...(now ? { now } : {}),
    close() {
      kubeApi.close();
      httpFetch.close();
    },
  };
}
