import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp } from '../../functions/webhook/app.js';
import { type Config, loadConfig } from '../../shared/config/load-config.js';
import { createCredentials } from '../../shared/github/credentials.js';
import { createGitHubClient } from '../../shared/github/github-client.js';
import { createHttpFetch } from '../../shared/http/http-fetch.js';
import { createKubeApi } from '../../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../../shared/kubernetes/kubeconfig-connection.js';
import { createKubernetesRunnerStore } from '../../shared/kubernetes/kubernetes-runner-store.js';
import type { RunnerStore } from '../../shared/kubernetes/runner-store.js';
import { createLogger } from '../../shared/log/create-logger.js';
import { createMetrics, type Metrics, observeGitHub } from '../../shared/metrics/create-metrics.js';
import type { StandInAuthOptions } from '../stand-ins/github-auth-stand-in.js';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';

export const WEBHOOK_SECRET = "It's a Secret to Everybody";
export const GITHUB_TOKEN = 'github_pat_11ABCDEFG0123456789_secretpart';

export interface AppHarness {
  readonly app: ReturnType<typeof createApp>;
  readonly config: Config;
  readonly github: GitHubStandIn;
  readonly kubernetes: KubernetesStandIn;
  /** The app's own runner store (the real one, on the stand-in), for setting up state as the app would. */
  readonly runners: RunnerStore;
  readonly metrics: Metrics;
  /** Every log line written so far, parsed. */
  readonly logs: Record<string, unknown>[];
  /** The raw log text, to search for leaked secrets. */
  logText(): string;
  close(): Promise<void>;
}

/** The app built from the real clients, pointed at the GitHub and Kubernetes stand-ins on loopback. */
export async function startAppHarness(
  env: Record<string, string> = {},
  options: { now?: () => number; github?: Omit<StandInAuthOptions, 'token'> } = {},
): Promise<AppHarness> {
  const github = await startGitHubStandIn({ token: GITHUB_TOKEN, ...options.github });
  const kubernetes = await startKubernetesStandIn();
  const config = loadConfig({
    WEBHOOK_SECRET,
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    RUNNER_MODE: 'standard',
    ...env,
  });
  const kubeApi = createKubeApi(
    kubeconfigConnection([kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'kar-app-')))]),
  );
  const runners = createKubernetesRunnerStore(kubeApi, config.namespace);
  const metrics = createMetrics({ countActiveRunners: () => runners.countActive() });
  // The production transport (node:http keep-alive agents), not the global fetch.
  const httpFetch = createHttpFetch();
  const client = createGitHubClient({
    baseUrl: config.githubApiUrl,
    fetch: httpFetch as unknown as typeof fetch,
    credentials: createCredentials(
      config.githubAuth,
      config.githubApiUrl,
      httpFetch as unknown as typeof fetch,
    ),
    scope: config.runnerScope,
    observe: observeGitHub(metrics),
  });
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = createLogger('debug', sink);
  const app = createApp({
    config,
    github: client,
    runners,
    metrics,
    log,
    ...(options.now ? { now: options.now } : {}),
  });
  return {
    app,
    config,
    github,
    kubernetes,
    runners,
    metrics,
    get logs() {
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => text,
    close: async () => {
      kubeApi.close();
      httpFetch.close();
      await github.close();
      await kubernetes.close();
    },
  };
}
