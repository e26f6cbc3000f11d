/**
 * The push in the real process (the built bundle): a receiver that is down or stuck costs no delivery and no
 * delivery time, and its failures are counted; a process stopped right after its deliveries still pushes all of
 * them (after its new series were seeded at 0).
 */

import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { freePort, type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import { type StatsdStandIn, startStatsdStandIn } from '../../stand-ins/statsd-stand-in.js';
import { tempDir } from '../support/temp-dir.js';

const WEBHOOK_SECRET = 'push-process-secret';
const GITHUB_TOKEN = 'github_pat_push_process';
let github: GitHubStandIn;
let kubernetes: KubernetesStandIn;
let kubeconfig: string;
let nextJobId = 70_000;

beforeAll(async () => {
  github = await startGitHubStandIn({ token: GITHUB_TOKEN });
  kubernetes = await startKubernetesStandIn();
  kubeconfig = kubernetes.writeKubeconfig(tempDir('push-process'));
});
afterAll(async () => {
  await github.close();
  await kubernetes.close();
});

const start = (statsdAddress: string, seedSeconds = '0') =>
  startServerProcess({
    WEBHOOK_SECRET,
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    KUBECONFIG: kubeconfig,
    RUNNER_MODE: 'standard',
    METRICS_STATSD_ADDRESS: statsdAddress,
    METRICS_SEED_SECONDS: seedSeconds,
  });

/** Sends `count` deliveries, each a second apart so that pushes are under way; returns each answer's time. */
async function deliver(server: ServerProcess, count: number, gapMs: number): Promise<number[]> {
  const times: number[] = [];
  for (let index = 0; index < count; index += 1) {
    const payload = queuedPayload({ jobId: nextJobId++ });
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
    const started = performance.now();
    const answer = await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
    times.push(performance.now() - started);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toMatchObject({ outcome: 'created' });
    await new Promise((resolve) => setTimeout(resolve, gapMs));
  }
  return times;
}

const failures = async (server: ServerProcess, outcome: string) =>
  Number(
    new RegExp(`metrics_push_failures_total\\{outcome="${outcome}"\\} (\\d+)`).exec(
      await (await fetch(`${server.url}/metrics`)).text(),
    )?.[1] ?? 0,
  );

describe('the push in the running function', () => {
  it('a stuck receiver (accepts, never reads): answers do not wait for the 2 s push timeout', async () => {
    const statsd: StatsdStandIn = await startStatsdStandIn();
    statsd.setMode('hang');
    const server = await start(statsd.address);
    try {
      // A first delivery warms the process up (its cold cost is not the push's). Then deliveries 1.2 s apart:
      // each meets the push of the one before in flight against the stuck receiver, which holds it 2 s.
      await deliver(server, 1, 1100);
      const times = await deliver(server, 2, 1100);
      expect(statsd.connections).toBeGreaterThan(1);
      expect(Math.max(...times), times.join(', ')).toBeLessThan(1900);
      await expect.poll(() => failures(server, 'dropped'), { timeout: 10_000 }).toBeGreaterThan(0);
    } finally {
      // No graceful stop: its last pushes would only wait out the stuck receiver again.
      server.process.kill('SIGKILL');
      await statsd.close();
    }
  }, 30_000);

  it('a receiver that is down: every delivery is answered, the failed pushes are counted as retried', async () => {
    const server = await start(`127.0.0.1:${await freePort()}`);
    try {
      await deliver(server, 3, 300);
      await expect.poll(() => failures(server, 'retried'), { timeout: 10_000 }).toBeGreaterThan(0);
    } finally {
      await server.stop();
    }
  }, 30_000);

  it('a process stopped right after its deliveries pushes every one of them, each series seeded at 0 first', async () => {
    const statsd = await startStatsdStandIn();
    const server = await start(statsd.address, '1');
    await deliver(server, 3, 0);
    expect(await server.stop()).toBe(0);
    await statsd.close();
    const created = statsd.lines.filter((line) => line.startsWith('runner_jobs_created_total:'));
    expect(created[0]).toMatch(/^runner_jobs_created_total:0\|c\|/);
    const sent = created.reduce((sum, line) => sum + Number(/:(\d+)\|/.exec(line)?.[1]), 0);
    expect(sent).toBe(3);
  }, 30_000);
});
