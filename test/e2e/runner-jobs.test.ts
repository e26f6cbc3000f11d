/**
 * The real function process, the GitHub stand-in, and a real Kubernetes control plane: what a stand-in API
 * server cannot show. Jobs pass strict server-side validation in every mode, run and complete on a (kwok) node,
 * are deleted by the TTL controller with their Secret by the garbage collector, and the function does all of it
 * as the ServiceAccount of knative/rbac.yaml and nothing more.
 */
import { chmodSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RUNNER_MODES } from '../../shared/config/load-config.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import {
  ensureNamespace,
  kubectl,
  kubectlJson,
  kubectlStatus,
  serviceAccountKubeconfig,
  waitFor,
} from './support/cluster.js';

// The runners' namespace; the function's ServiceAccount lives in its own (knative/rbac.yaml).
const NAMESPACE = 'github-runner-jobs';
const ACCOUNT_NAMESPACE = 'github-runners';
const ACCOUNT = 'kube-actions-runner';
const WEBHOOK_SECRET = 'e2e-webhook-secret';
const GITHUB_TOKEN = 'github_pat_e2e_token';
const rbacManifest = readFileSync(fileURLToPath(new URL('../../knative/rbac.yaml', import.meta.url)), 'utf8');

type Job = {
  metadata: { name: string; uid: string; labels?: Record<string, string> };
  spec: { suspend?: boolean };
  status?: { conditions?: { type: string; status: string }[] };
};
type Pod = { metadata: { name: string }; spec: { nodeName?: string }; status: { phase?: string } };

let github: GitHubStandIn;
let accountKubeconfig: string;
const servers: ServerProcess[] = [];
let nextJobId = 7_000_000_000;

async function startFunction(env: Record<string, string> = {}): Promise<ServerProcess> {
  const server = await startServerProcess({
    WEBHOOK_SECRET,
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    KUBECONFIG: accountKubeconfig,
    NAMESPACE,
    ...env,
  });
  servers.push(server);
  return server;
}

/** A fresh queued job known to the GitHub stand-in, and its signed delivery. */
async function queuedDelivery() {
  const payload = queuedPayload({ jobId: nextJobId++ });
  github.addJob(payload.repository.full_name, payload.workflow_job);
  return { jobId: payload.workflow_job.id, ...(await signedDelivery(payload, WEBHOOK_SECRET)) };
}

async function deliver(server: ServerProcess, delivery: { headers: Record<string, string>; body: string }) {
  return fetch(`${server.url}/webhook`, { method: 'POST', headers: delivery.headers, body: delivery.body });
}

const getJob = (name: string): Job | undefined => {
  const found = kubectlStatus(['get', 'job', name, '-n', NAMESPACE, '-o', 'json']);
  return found.status === 0 ? (JSON.parse(found.output) as Job) : undefined;
};
const exists = (kind: string, name: string) =>
  kubectlStatus(['get', kind, name, '-n', NAMESPACE]).status === 0;
const isComplete = (job: Job | undefined) =>
  job?.status?.conditions?.some(
    (condition) => condition.type === 'Complete' && condition.status === 'True',
  ) ?? false;

beforeAll(async () => {
  ensureNamespace(ACCOUNT_NAMESPACE);
  kubectl(['apply', '-f', '-'], rbacManifest);
  accountKubeconfig = serviceAccountKubeconfig(
    mkdtempSync(join(tmpdir(), 'kar-e2e-')),
    ACCOUNT_NAMESPACE,
    ACCOUNT,
  );
  github = await startGitHubStandIn({ token: GITHUB_TOKEN });
});
afterAll(async () => {
  for (const server of servers) await server.stop();
  await github?.close();
});
beforeEach(() => {
  kubectl(['delete', 'jobs', '-n', NAMESPACE, '-l', 'app=github-runner', '--wait=true']);
});

describe.each(RUNNER_MODES)('mode %s on the real API server', (mode) => {
  it('creates a Job the API server accepts with strict validation; its pod is scheduled and it completes', async () => {
    const server = await startFunction({ RUNNER_MODE: mode });
    const delivery = await queuedDelivery();
    const name = `runner-${delivery.jobId}`;
    const response = await deliver(server, delivery);
    expect(await response.json()).toMatchObject({ outcome: 'created', job: name });
    expect(response.status).toBe(200);

    const job = await waitFor(`${name} to complete`, () => {
      const current = getJob(name);
      return isComplete(current) ? current : undefined;
    });
    expect(job.spec.suspend).toBe(false);
    const pods = kubectlJson<{ items: Pod[] }>([
      'get',
      'pods',
      '-n',
      NAMESPACE,
      '-l',
      `job-name=${name}`,
    ]).items;
    expect(pods).toHaveLength(1);
    expect(pods[0]?.spec.nodeName).toBe('kwok-node-0');
    expect(pods[0]?.status.phase).toBe('Succeeded');
    const secret = kubectlJson<{ metadata: { ownerReferences: { uid: string }[] } }>([
      'get',
      'secret',
      name,
      '-n',
      NAMESPACE,
    ]);
    expect(secret.metadata.ownerReferences[0]?.uid).toBe(job.metadata.uid);
    await server.stop();
  });
});

describe('credentials the way kubectl finds them', () => {
  it('authenticates through an exec credential plugin, over TLS verified against the cluster CA', async () => {
    // The plugin hands out the ServiceAccount's token as an ExecCredential, as `aws eks get-token` would.
    const dir = mkdtempSync(join(tmpdir(), 'kar-e2e-exec-'));
    const account = JSON.parse(readFileSync(accountKubeconfig, 'utf8')) as {
      clusters: unknown[];
      users: { user: { token: string } }[];
    };
    const plugin = join(dir, 'token-plugin.sh');
    writeFileSync(
      plugin,
      `#!/bin/sh\nprintf '%s' '${JSON.stringify({
        apiVersion: 'client.authentication.k8s.io/v1',
        kind: 'ExecCredential',
        status: { token: account.users[0]?.user.token },
      })}'\n`,
    );
    chmodSync(plugin, 0o700);
    const kubeconfig = join(dir, 'exec.kubeconfig');
    writeFileSync(
      kubeconfig,
      JSON.stringify({
        apiVersion: 'v1',
        kind: 'Config',
        clusters: account.clusters,
        users: [
          {
            name: 'exec',
            user: { exec: { apiVersion: 'client.authentication.k8s.io/v1', command: './token-plugin.sh' } },
          },
        ],
        contexts: [{ name: 'exec', context: { cluster: 'e2e', user: 'exec' } }],
        'current-context': 'exec',
      }),
    );
    const server = await startFunction({ RUNNER_MODE: 'standard', KUBECONFIG: kubeconfig });
    const delivery = await queuedDelivery();
    const response = await deliver(server, delivery);
    expect(await response.json()).toMatchObject({ outcome: 'created', job: `runner-${delivery.jobId}` });
    expect(exists('job', `runner-${delivery.jobId}`)).toBe(true);
    await server.stop();
  });
});

describe('clean-up by Kubernetes itself', () => {
  it('deletes the finished Job by TTL and its JIT Secret by garbage collection, leaving nothing', async () => {
    const server = await startFunction({ RUNNER_MODE: 'standard', JOB_TTL_SECONDS: '2' });
    const delivery = await queuedDelivery();
    const name = `runner-${delivery.jobId}`;
    expect((await deliver(server, delivery)).status).toBe(200);
    await waitFor(`${name} to complete`, () => (isComplete(getJob(name)) ? true : undefined));
    await waitFor(`${name} to be deleted by its TTL`, () => (exists('job', name) ? undefined : true));
    await waitFor(`secret ${name} to be garbage-collected`, () =>
      exists('secret', name) ? undefined : true,
    );
    const left = kubectl([
      'get',
      'pods,secrets,jobs',
      '-n',
      NAMESPACE,
      '-l',
      `kube-actions-runner.dev/job-id=${delivery.jobId}`,
      '-o',
      'name',
    ]);
    expect(left.trim()).toBe('');
    await server.stop();
  });
});

describe('exactly one runner under duplicates and races', () => {
  it('leaves one Job and one Secret after 20 concurrent deliveries through two processes', async () => {
    const [first, second] = [
      await startFunction({ RUNNER_MODE: 'standard' }),
      await startFunction({ RUNNER_MODE: 'standard' }),
    ];
    const delivery = await queuedDelivery();
    const before = github.runners.length;
    const answers = await Promise.all(
      Array.from({ length: 20 }, (_, index) => deliver(index % 2 === 0 ? first : second, delivery)),
    );
    // 200 for the one that created it and for those that met the started Job; 202 while it was being started.
    expect(answers.every((answer) => answer.status === 200 || answer.status === 202)).toBe(true);
    const selector = `kube-actions-runner.dev/job-id=${delivery.jobId}`;
    expect(
      kubectlJson<{ items: unknown[] }>(['get', 'jobs', '-n', NAMESPACE, '-l', selector]).items,
    ).toHaveLength(1);
    expect(
      kubectlJson<{ items: unknown[] }>(['get', 'secrets', '-n', NAMESPACE, '-l', selector]).items,
    ).toHaveLength(1);
    expect(github.runners.length - before).toBe(1);
    await first.stop();
    await second.stop();
  });
});

describe('runner_jobs_active', () => {
  it('reports the number of unfinished runner Jobs in the API server', async () => {
    // The count is one LIST per window (METRICS_ACTIVE_CACHE_SECONDS), however often /metrics is scraped.
    const server = await startFunction({ RUNNER_MODE: 'standard', METRICS_ACTIVE_CACHE_SECONDS: '1' });
    const active = async () => {
      const text = await (await fetch(`${server.url}/metrics`)).text();
      return Number(/^runner_jobs_active (\d+)$/m.exec(text)?.[1]);
    };
    /** The count once a window has passed since the last change. */
    const activeAfterWindow = async () => {
      await new Promise((resolve) => setTimeout(resolve, 1100));
      return active();
    };
    expect(await active()).toBe(0);
    // Three suspended runner Jobs never finish while suspended; one finished runner Job does not count.
    for (const index of [1, 2, 3]) {
      kubectl(['create', '-f', '-'], JSON.stringify(suspendedRunnerJob(`held-${index}`)));
    }
    const delivery = await queuedDelivery();
    expect((await deliver(server, delivery)).status).toBe(200);
    await waitFor('the delivered Job to complete', () =>
      isComplete(getJob(`runner-${delivery.jobId}`)) ? true : undefined,
    );
    expect(await activeAfterWindow()).toBe(3);
    kubectl(['delete', 'job', 'held-1', '-n', NAMESPACE, '--wait=true']);
    expect(await activeAfterWindow()).toBe(2);
    await server.stop();
  });
});

describe('least privilege, judged by the real authorizer', () => {
  const as = `system:serviceaccount:${ACCOUNT_NAMESPACE}:${ACCOUNT}`;
  const can = (verb: string, resource: string, namespace = NAMESPACE, subresource?: string) =>
    kubectlStatus([
      'auth',
      'can-i',
      verb,
      resource,
      '-n',
      namespace,
      '--as',
      as,
      ...(subresource ? ['--subresource', subresource] : []),
    ]).output.trim();

  it.each([
    ['create', 'jobs.batch'],
    ['get', 'jobs.batch'],
    ['patch', 'jobs.batch'],
    ['delete', 'jobs.batch'],
    ['list', 'jobs.batch'],
    ['create', 'secrets'],
    ['create', 'leases.coordination.k8s.io'],
    ['delete', 'leases.coordination.k8s.io'],
    ['get', 'leases.coordination.k8s.io'],
    ['patch', 'leases.coordination.k8s.io'],
  ])('may %s %s in its namespace', (verb, resource) => {
    expect(can(verb, resource)).toBe('yes');
  });

  it.each([
    ['get', 'secrets', NAMESPACE],
    ['list', 'secrets', NAMESPACE],
    ['get', 'secrets', ACCOUNT_NAMESPACE],
    ['create', 'jobs.batch', ACCOUNT_NAMESPACE],
    ['get', 'secrets', 'kube-system'],
    ['create', 'jobs.batch', 'default'],
    ['list', 'jobs.batch', 'kube-system'],
    ['create', 'pods', NAMESPACE],
    ['update', 'jobs.batch', NAMESPACE],
    ['delete', 'secrets', NAMESPACE],
  ])('may not %s %s in %s', (verb, resource, namespace) => {
    expect(can(verb, resource, namespace)).toBe('no');
  });

  it('may not exec into pods', () => {
    expect(can('create', 'pods', NAMESPACE, 'exec')).toBe('no');
    expect(can('get', 'pods', NAMESPACE, 'exec')).toBe('no');
  });
});

function suspendedRunnerJob(name: string) {
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: { name, namespace: NAMESPACE, labels: { app: 'github-runner' } },
    spec: {
      suspend: true,
      template: {
        spec: { restartPolicy: 'Never', containers: [{ name: 'runner', image: 'example.invalid/held' }] },
      },
    },
  };
}
