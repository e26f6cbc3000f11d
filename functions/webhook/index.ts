/**
 * Entry point: reads the configuration once, builds the real clients, and serves the app. The only file that
 * touches `process.env` or starts a server.
 */
import { serve } from '@hono/node-server';
import { ConfigError, loadConfig, redactConfig } from '../../shared/config/load-config.js';
import { readSecretFiles } from '../../shared/config/read-secret-files.js';
import { createCredentials } from '../../shared/github/credentials.js';
import { createGitHubClient } from '../../shared/github/github-client.js';
import { createHttpFetch } from '../../shared/http/http-fetch.js';
import { createKubeApi } from '../../shared/kubernetes/kube-api.js';
import { createKubernetesRunnerStore } from '../../shared/kubernetes/kubernetes-runner-store.js';
import { loadKubeConnection } from '../../shared/kubernetes/load-kube-connection.js';
import { createLogger } from '../../shared/log/create-logger.js';
import { createMetrics, observeGitHub } from '../../shared/metrics/create-metrics.js';
import { createPushGateway } from '../../shared/metrics/push-gateway.js';
import { createApp } from './app.js';

function fail(message: string, problems: readonly string[] = []): never {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: message, problems })}\n`);
  process.exit(1);
}

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(readSecretFiles(process.env));
} catch (error) {
  if (error instanceof ConfigError) {
    fail('invalid configuration: see the README configuration table', error.problems);
  }
  fail((error as Error).message);
}

const log = createLogger(config.logLevel);

let kubernetes: ReturnType<typeof loadKubeConnection>;
try {
  kubernetes = loadKubeConnection(process.env);
} catch (error) {
  fail(`could not load a Kubernetes config: ${(error as Error).message}`);
}
const runners = createKubernetesRunnerStore(createKubeApi(kubernetes), config.namespace);
const metrics = createMetrics({
  countActiveRunners: () => runners.countActive(),
  onCollectError: (error) => log.warn({ err: error }, 'could not count active runner jobs'),
});
// GitHub and the Pushgateway are called through node:http(s) keep-alive agents, not the global (undici) fetch,
// whose first use would cost every cold start ~40 ms. It implements what @octokit/request reads of a Response.
const httpFetch = createHttpFetch() as unknown as typeof fetch;
const github = createGitHubClient({
  baseUrl: config.githubApiUrl,
  fetch: httpFetch,
  credentials: createCredentials(config.githubAuth, config.githubApiUrl, httpFetch),
  scope: config.runnerScope,
  observe: observeGitHub(metrics),
});
const pushGateway =
  config.metricsPushgatewayUrl === undefined
    ? undefined
    : createPushGateway({
        url: config.metricsPushgatewayUrl,
        job: config.metricsJob,
        metrics,
        log,
        fetch: httpFetch,
      });
const app = createApp({
  config,
  github,
  runners,
  metrics,
  log,
  ...(pushGateway ? { afterDelivery: () => pushGateway.schedule() } : {}),
});

const server = serve(
  { fetch: app.fetch, port: config.port, hostname: process.env.HOST ?? '0.0.0.0' },
  (info) => {
    log.info(
      {
        port: info.port,
        cluster: kubernetes.server.origin,
        kubeconfig: kubernetes.source,
        config: redactConfig(config),
      },
      'listening',
    );
  },
);

function shutdown(signal: string): void {
  log.info({ signal }, 'shutting down');
  // Stop accepting, let the deliveries in flight finish, push the last metrics, exit. Knative's default grace
  // period is 30 s; a delivery cannot take more than GitHub's 10 s.
  server.close(() => {
    void (pushGateway?.flush() ?? Promise.resolve()).finally(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 15_000).unref();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
