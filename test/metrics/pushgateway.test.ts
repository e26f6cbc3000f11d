/**
 * Metrics that survive scale-to-zero: three function processes run at once, each handles a known number of
 * deliveries, pushes to a real Prometheus Pushgateway and stops. A real Prometheus scrapes the gateway, and the
 * documented queries (sums over instances) must give exactly the truth.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { freePort, startServerProcess } from '../../stand-ins/server-process.js';
import { missingPrometheusTools } from './tools.js';

const WEBHOOK_SECRET = 'push-test-secret';
const GITHUB_TOKEN = 'github_pat_push_test';
const children: ChildProcess[] = [];
let github: GitHubStandIn;
let kubernetes: KubernetesStandIn;
let gatewayUrl: string;
let prometheusUrl: string;

async function waitUntilUp(url: string) {
  const deadline = Date.now() + 20_000;
  for (;;) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`${url} did not come up`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

async function query(promql: string): Promise<number | undefined> {
  const response = await fetch(`${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = (await response.json()) as { data: { result: { value: [number, string] }[] } };
  const value = body.data.result[0]?.value[1];
  return value === undefined ? undefined : Number(value);
}

describe.skipIf(missingPrometheusTools.length > 0)('pushing to a real Pushgateway', () => {
  beforeAll(async () => {
    const dir = mkdtempSync(join(tmpdir(), 'kar-push-'));
    const gatewayPort = await freePort();
    gatewayUrl = `http://127.0.0.1:${gatewayPort}`;
    children.push(
      // Debian's build persists to /var/lib/prometheus by default: keep this gateway's state to this run.
      spawn(
        'prometheus-pushgateway',
        [
          `--web.listen-address=127.0.0.1:${gatewayPort}`,
          `--persistence.file=${join(dir, 'pushgateway.data')}`,
        ],
        { stdio: 'ignore' },
      ),
    );
    const prometheusPort = await freePort();
    prometheusUrl = `http://127.0.0.1:${prometheusPort}`;
    const config = join(dir, 'prometheus.yml');
    writeFileSync(
      config,
      JSON.stringify({
        global: { scrape_interval: '1s' },
        // honor_labels keeps the pushed job and instance labels, as the Pushgateway documentation requires.
        scrape_configs: [
          {
            job_name: 'pushgateway',
            honor_labels: true,
            static_configs: [{ targets: [`127.0.0.1:${gatewayPort}`] }],
          },
        ],
      }),
    );
    children.push(
      spawn(
        'prometheus',
        [
          `--config.file=${config}`,
          `--storage.tsdb.path=${join(dir, 'data')}`,
          `--web.listen-address=127.0.0.1:${prometheusPort}`,
        ],
        { stdio: 'ignore' },
      ),
    );
    github = await startGitHubStandIn({ token: GITHUB_TOKEN });
    kubernetes = await startKubernetesStandIn();
    await waitUntilUp(`${gatewayUrl}/-/ready`);
    await waitUntilUp(`${prometheusUrl}/-/ready`);
  }, 60_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGTERM');
    await github?.close();
    await kubernetes?.close();
  });

  it('adds up counters from three concurrent short-lived instances exactly', async () => {
    const kubeconfig = kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'kar-push-kc-')));
    const plan = [
      { created: 4, forged: 1 },
      { created: 7, forged: 2 },
      { created: 10, forged: 0 },
    ];
    let nextJobId = 5000;
    await Promise.all(
      plan.map(async ({ created, forged }) => {
        const server = await startServerProcess({
          WEBHOOK_SECRET,
          GITHUB_TOKEN,
          GITHUB_API_URL: github.url,
          KUBECONFIG: kubeconfig,
          RUNNER_MODE: 'standard',
          METRICS_PUSHGATEWAY_URL: gatewayUrl,
        });
        for (let index = 0; index < created + forged; index += 1) {
          const payload = queuedPayload({ jobId: nextJobId++ });
          github.addJob(payload.repository.full_name, payload.workflow_job);
          const { headers, body } = await signedDelivery(
            payload,
            index < created ? WEBHOOK_SECRET : 'forged',
          );
          await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
        }
        // SIGTERM: the last push happens on the way out, whatever the debounce had pending.
        expect(await server.stop()).toBe(0);
      }),
    );
    const truth = {
      created: plan.reduce((sum, p) => sum + p.created, 0),
      forged: plan.reduce((sum, p) => sum + p.forged, 0),
    };
    const job = '{job="kube-actions-runner"}';
    await expect
      .poll(() => query(`sum(webhook_requests_total${job})`), { timeout: 15_000, interval: 250 })
      .toBe(truth.created + truth.forged);
    expect(await query(`sum(runner_jobs_created_total${job})`)).toBe(truth.created);
    expect(await query(`sum(webhook_requests_total{job="kube-actions-runner",status="401"})`)).toBe(
      truth.forged,
    );
    expect(await query(`count(count by (instance) (webhook_requests_total${job}))`)).toBe(3);
    expect(await query(`sum(webhook_latency_seconds_count${job})`)).toBe(truth.created + truth.forged);
    // The cluster gauge is pushed to one group (no instance): one series, not three.
    expect(await query(`count(runner_jobs_active${job})`)).toBe(1);
    expect(await query(`max(runner_jobs_active${job})`)).toBe(truth.created);
  }, 60_000);
});
