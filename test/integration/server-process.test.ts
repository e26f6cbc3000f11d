import { readFileSync, writeFileSync } from 'node:fs';
import { type AddressInfo, createServer } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { runToExit, type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import { tempDir } from '../support/temp-dir.js';

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
      KUBECONFIG: kubernetes.writeKubeconfig(tempDir('int')),
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

  it('writes JSON log lines with no secret in them', async () => {
    // Log lines are written asynchronously: the delivery's line may reach the pipe after its answer did.
    await server.logged('runner job created');
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
      KUBECONFIG: kubernetes.writeKubeconfig(tempDir('int')),
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

  it('reports the configuration, *_FILE and Kubernetes problems at once, not one stage per start', async () => {
    const { code, output } = await runToExit({
      GITHUB_TOKEN: 't',
      WEBHOOK_SECRET_FILE: '/nonexistent/webhook-secret',
      RUNNER_MODE: 'rootful',
    });
    expect(code).toBe(1);
    const [line, ...rest] = output.trim().split('\n');
    expect(rest).toEqual([]);
    expect(JSON.parse(line ?? '')).toMatchObject({
      level: 'fatal',
      problems: [
        'WEBHOOK_SECRET_FILE: cannot read /nonexistent/webhook-secret: ENOENT',
        'RUNNER_MODE must be one of standard, userns, dind, dind-rootless, got "rootful"',
        expect.stringMatching(/^could not load a Kubernetes config: no Kubernetes credentials found/),
      ],
    });
  });

  it('says in one line that the port is taken, and exits non-zero', async () => {
    const kubernetes = await startKubernetesStandIn();
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as AddressInfo;
    try {
      const { code, output } = await runToExit({
        WEBHOOK_SECRET,
        GITHUB_TOKEN,
        KUBECONFIG: kubernetes.writeKubeconfig(tempDir('int')),
        HOST: '127.0.0.1',
        PORT: String(port),
      });
      expect(code).toBe(1);
      const lines = output.trim().split('\n');
      expect(lines).toHaveLength(1);
      expect(JSON.parse(lines[0] ?? '')).toMatchObject({
        level: 'fatal',
        msg: `cannot listen on 127.0.0.1:${port}: the port is in use by another process; stop it or set PORT`,
      });
      expect(output).not.toContain('    at ');
    } finally {
      taken.close();
      await kubernetes.close();
    }
  });
});

describe('the start-up choices the built function makes', () => {
  it("takes the kubeconfig's current-context namespace when NAMESPACE is unset", async () => {
    const kubernetes = await startKubernetesStandIn();
    const kubeconfig = kubernetes.writeKubeconfig(tempDir('int'));
    writeFileSync(
      kubeconfig,
      readFileSync(kubeconfig, 'utf8').replace('"namespace":"default"', '"namespace":"team-runners"'),
    );
    const server = await startServerProcess({ WEBHOOK_SECRET, GITHUB_TOKEN, KUBECONFIG: kubeconfig });
    try {
      await server.logged('listening');
      const listening = server.logs().find((line) => line.msg === 'listening');
      expect(listening?.config).toMatchObject({ namespace: 'team-runners' });
    } finally {
      await server.stop();
      await kubernetes.close();
    }
  });

  it('with PORT=0 listens on a port the system chose, named in its listening line even at LOG_LEVEL=warn', async () => {
    const kubernetes = await startKubernetesStandIn();
    const server = await startServerProcess({
      WEBHOOK_SECRET,
      GITHUB_TOKEN,
      KUBECONFIG: kubernetes.writeKubeconfig(tempDir('int')),
      PORT: '0',
      LOG_LEVEL: 'warn',
    });
    try {
      const listening = server.logs().filter((line) => line.msg === 'listening');
      expect(listening).toHaveLength(1);
      expect(listening[0]?.port).toBeGreaterThan(0);
      expect(server.url).toBe(`http://127.0.0.1:${String(listening[0]?.port)}`);
      expect((await fetch(`${server.url}/health`)).status).toBe(200);
      // Nothing else under warn: the line is the one exception.
      expect(server.logs().filter((line) => line.level === 'info')).toEqual(listening);
    } finally {
      await server.stop();
      await kubernetes.close();
    }
  });

  it('logs an upstream failure with its type and the real names of the functions on its stack', async () => {
    // GitHub refuses the token (401, not retried): the job cannot be read.
    const github = await startGitHubStandIn({ token: 'github_pat_another_one' });
    const kubernetes = await startKubernetesStandIn();
    const server = await startServerProcess({
      WEBHOOK_SECRET,
      GITHUB_TOKEN,
      GITHUB_API_URL: github.url,
      KUBECONFIG: kubernetes.writeKubeconfig(tempDir('int')),
    });
    try {
      const { headers, body } = await signedDelivery(queuedPayload(), WEBHOOK_SECRET);
      const response = await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
      expect(response.status).toBe(502);
      await server.logged((line) => line.outcome === 'failed');
      const failed = server.logs().find((line) => line.outcome === 'failed');
      const err = failed?.err as { type?: string; stack?: string } | undefined;
      expect(err?.type).toBe('UpstreamError');
      // The bundle is minified; without esbuild's keepNames these frames read `at async pm (...)`.
      expect(err?.stack).toMatch(/at async handleQueuedJob \(/);
    } finally {
      await server.stop();
      await github.close();
      await kubernetes.close();
    }
  });
});
