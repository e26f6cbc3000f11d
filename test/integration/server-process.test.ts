import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { runToExit, type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';

const WEBHOOK_SECRET = 'integration-webhook-secret-5e1f';
const GITHUB_TOKEN = 'github_pat_11INTEGRATION_0123456789abcdef';

describe('the built function process', () => {
  let github: GitHubStandIn;
  let kubernetes: KubernetesStandIn;
  let server: ServerProcess;

  beforeAll(async () => {
    github = await startGitHubStandIn({ token: GITHUB_TOKEN });
    kubernetes = await startKubernetesStandIn();
    server = await startServerProcess({
      WEBHOOK_SECRET,
      GITHUB_TOKEN,
      GITHUB_API_URL: github.url,
      KUBECONFIG: kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'kar-int-'))),
      NAMESPACE: 'default',
    });
  });
  afterAll(async () => {
    await server?.stop();
    await github?.close();
    await kubernetes?.close();
  });

  async function post(payload: unknown, secret = WEBHOOK_SECRET): Promise<Response> {
    const { headers, body } = await signedDelivery(payload, secret);
    return fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
  }

  it('turns a signed real queued delivery into a runner Job and its JIT Secret', async () => {
    const payload = queuedPayload();
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const response = await post(payload);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ outcome: 'created', job: 'runner-12877621891' });
    const job = kubernetes.jobs.get('runner-12877621891');
    expect(job?.spec?.suspend).toBe(false);
    // The default mode is dind-rootless.
    expect((job?.spec?.template as { spec?: { hostUsers?: boolean } } | undefined)?.spec?.hostUsers).toBe(
      false,
    );
    expect(kubernetes.secrets.has('runner-12877621891')).toBe(true);
    expect(github.runners).toHaveLength(1);
    expect(github.violations).toEqual([]);
  });

  it('refuses a forged delivery with 401 and creates nothing', async () => {
    const payload = queuedPayload({ jobId: 5 });
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const response = await post(payload, 'forged');
    expect(response.status).toBe(401);
    expect(kubernetes.jobs.has('runner-5')).toBe(false);
  });

  it('reports the real number of active runner Jobs on /metrics', async () => {
    const text = await (await fetch(`${server.url}/metrics`)).text();
    expect(text).toMatch(/^runner_jobs_active 1$/m);
  });

  it('writes JSON log lines with no secret in them', () => {
    const logs = server.logs();
    expect(logs.some((line) => line.msg === 'listening')).toBe(true);
    expect(logs.some((line) => line.outcome === 'created' && line.jobId === 12877621891)).toBe(true);
    const text = server.output();
    expect(text).not.toContain(WEBHOOK_SECRET);
    expect(text).not.toContain(GITHUB_TOKEN);
    for (const runner of github.runners) expect(text).not.toContain(runner.encodedJitConfig);
  });

  it('exits 0 on SIGTERM', async () => {
    expect(await server.stop()).toBe(0);
  });
});

describe('graceful shutdown', () => {
  it('on SIGTERM stops accepting, finishes the delivery in flight, and exits 0', async () => {
    const github = await startGitHubStandIn({ token: GITHUB_TOKEN });
    const kubernetes = await startKubernetesStandIn();
    const server = await startServerProcess({
      WEBHOOK_SECRET,
      GITHUB_TOKEN,
      GITHUB_API_URL: github.url,
      KUBECONFIG: kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'kar-int-'))),
    });
    // GitHub holds the runner registration: the delivery is in flight, waiting on it, when SIGTERM comes.
    // (Ordered by events, not by sleeps: on a loaded machine the delivery may not have arrived after 400 ms,
    // nor the signal have been handled after 200 ms more.)
    let reached = () => {};
    const jitReached = new Promise<void>((resolve) => {
      reached = resolve;
    });
    let release = () => {};
    const released = new Promise<void>((resolve) => {
      release = resolve;
    });
    github.holdAnswer('jit', () => {
      reached();
      return released;
    });
    try {
      const payload = queuedPayload({ jobId: 77 });
      github.addJob(payload.repository.full_name, payload.workflow_job);
      const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
      const inFlight = fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
      await jitReached;
      const exited = server.stop();
      // The function logs this just before it stops accepting, in the same turn of its event loop.
      await server.logged('shutting down');
      await expect(fetch(`${server.url}/health`)).rejects.toThrow();
      release();
      const response = await inFlight;
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ outcome: 'created', job: 'runner-77' });
      expect(kubernetes.jobs.get('runner-77')?.spec?.suspend).toBe(false);
      expect(await exited).toBe(0);
    } finally {
      release();
      await server.stop();
      await github.close();
      await kubernetes.close();
    }
  });
});

describe('start-up configuration errors', () => {
  it('exits non-zero and names every missing setting', async () => {
    const { code, output } = await runToExit({});
    expect(code).toBe(1);
    expect(output).toContain('WEBHOOK_SECRET is required');
    expect(output).toContain('GITHUB_TOKEN is required');
  });

  it('exits non-zero for an unknown mode', async () => {
    const { code, output } = await runToExit({
      WEBHOOK_SECRET: 's',
      GITHUB_TOKEN: 't',
      RUNNER_MODE: 'rootful',
    });
    expect(code).toBe(1);
    expect(output).toContain(
      'RUNNER_MODE must be one of standard, userns, dind, dind-rootless, got \\"rootful\\"',
    );
  });

  it('exits non-zero with a hint when no Kubernetes config can be found', async () => {
    const { code, output } = await runToExit({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't' });
    expect(code).toBe(1);
    expect(output).toContain(
      'could not load a Kubernetes config: no Kubernetes credentials found: run in a pod',
    );
  });
});
