import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { createApp } from '../../functions/webhook/app.js';
import { createDeps, type Deps } from '../../functions/webhook/create-deps.js';
import { createAppServer } from '../../functions/webhook/serve-app.js';
import { createWebhookRoute, type WebhookRoute } from '../../functions/webhook/webhook-route.js';
import { type Config, loadConfig } from '../../shared/config/load-config.js';
import type { LingerLimits } from '../../shared/http/lingering-close.js';
import { kubeconfigConnection } from '../../shared/kubernetes/kubeconfig-connection.js';
import { createLogger } from '../../shared/log/create-logger.js';
import type { Metrics } from '../../shared/metrics/create-metrics.js';
import { profileForRecord } from '../../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import type { RecordStore } from '../../shared/records/record-store.js';
import type { StandInAuthOptions } from '../../stand-ins/github-auth-stand-in.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { tempDir } from './temp-dir.js';

export const WEBHOOK_SECRET = "It's a Secret to Everybody";
export const GITHUB_TOKEN = 'github_pat_11ABCDEFG0123456789_secretpart';

export interface AppHarness {
  readonly app: ReturnType<typeof createApp>;
  /** The app's webhook route, which the production server (`createAppServer`) calls directly. */
  readonly webhook: WebhookRoute;
  readonly config: Config;
  readonly github: GitHubStandIn;
  readonly kubernetes: KubernetesStandIn;
  /** The app's own record store (the real one, on the stand-in), for setting up state as the app would. */
  readonly records: RecordStore;
  readonly metrics: Metrics;
  /** Everything the app was built from (the use cases take it), for a test that calls one directly. */
  readonly deps: Deps;
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
  let text = '';
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      text += chunk.toString();
      done();
    },
  });
  const log = createLogger('debug', sink);
  const deps = createDeps({
    config,
    kubernetes: kubeconfigConnection([kubernetes.writeKubeconfig(tempDir('app'))]),
    log,
    ...(options.now ? { now: options.now } : {}),
  });
  const webhook = createWebhookRoute(deps);
  const app = createApp(deps, webhook);
  return {
    app,
    webhook,
    config,
    github,
    kubernetes,
    records: deps.records,
    metrics: deps.metrics,
    deps,
    get logs() {
      return text
        .split('\n')
        .filter(Boolean)
        .map((line) => JSON.parse(line) as Record<string, unknown>);
    },
    logText: () => text,
    close: async () => {
      deps.close();
      await github.close();
      await kubernetes.close();
    },
  };
}

/** A queued job GitHub knows (added to the stand-in), and its payload, as GitHub sends it. */
export function addQueuedJob(h: AppHarness, overrides: Parameters<typeof queuedPayload>[0] = {}) {
  const payload = queuedPayload(overrides);
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  return payload;
}

/** Records `count` queued jobs (ids 1..count) the way a delivery cut short after its create leaves them: unclaimed. */
export async function addBacklog(h: AppHarness, count: number): Promise<void> {
  for (let jobId = 1; jobId <= count; jobId += 1) {
    const payload = addQueuedJob(h, { jobId });
    const fields = {
      owner: payload.repository.owner.login,
      repo: payload.repository.name,
      jobId,
      runId: Number(payload.workflow_job.run_id),
      runAttempt: 1,
      deliveryId: `d-${jobId}`,
      jobLabels: payload.workflow_job.labels,
    };
    await h.records.createRecord(
      buildRecordJob(h.config, profileForRecord(h.config.profiles, fields.jobLabels), fields),
    );
  }
}

/** Delivers a payload to the app, signed as GitHub signs it; the answer's status and JSON body. */
export async function deliverSigned(h: AppHarness, payload: unknown) {
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  const response = await h.app.request('/webhook', { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/**
 * Serves the app on a loopback port as production does (`createAppServer`, with its lingering close's limits unless
 * given); its URL, and how to stop serving.
 */
export async function serveApp(
  h: AppHarness,
  linger?: LingerLimits,
): Promise<{ url: string; close: () => void }> {
  const server = createAppServer(h.app, h.webhook, {}, linger);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => server.close() };
}

/**
 * Serves the app on a loopback port and points the GitHub stand-in's webhook at it, so that GitHub's own deliveries
 * and redeliveries reach it; returns how to stop serving.
 */
export async function serveAsHook(
  h: AppHarness,
  hook: { hookId: number; app?: boolean },
): Promise<() => void> {
  const { url, close } = await serveApp(h);
  h.github.setHook({ url: `${url}/webhook`, secret: WEBHOOK_SECRET, ...hook });
  return close;
}
