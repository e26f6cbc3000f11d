/**
 * The machine a job asks for, on the real control plane: the real scheduler places an arm64 job's pod on the
 * arm64 (kwok) node and an x64 job's on the amd64 one; without the node-reading ClusterRole an arm64 job with no
 * arm64 node starts as before and its pod stays Pending rather than land on an amd64 node; with it, the job waits
 * (202, and why) until reconcile finds an arm64 node. The function acts as its ServiceAccount, judged by the real
 * authorizer.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
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

const NAMESPACE = 'github-runner-jobs';
const ACCOUNT_NAMESPACE = 'github-runners';
const ACCOUNT = 'kube-actions-runner';
const WEBHOOK_SECRET = 'e2e-arch-secret';
const GITHUB_TOKEN = 'github_pat_e2e_arch';
const RECONCILE_TOKEN = 'e2e-arch-reconcile';
const ARM_NODE = 'kwok-node-arm64';
const AS = `system:serviceaccount:${ACCOUNT_NAMESPACE}:${ACCOUNT}`;
const manifest = (name: string) =>
  readFileSync(fileURLToPath(new URL(`../../knative/${name}`, import.meta.url)), 'utf8');

type Pod = {
  spec: { nodeName?: string; nodeSelector?: Record<string, string> };
  status: { phase?: string; conditions?: { type: string; status: string; reason?: string }[] };
};

let github: GitHubStandIn;
let accountKubeconfig: string;
const servers: ServerProcess[] = [];
let nextJobId = 7_100_000_000;

async function startFunction(): Promise<ServerProcess> {
  const server = await startServerProcess({
    WEBHOOK_SECRET,
    GITHUB_TOKEN,
    GITHUB_API_URL: github.url,
    KUBECONFIG: accountKubeconfig,
    NAMESPACE,
    RUNNER_MODE: 'standard',
    RECONCILE_TOKEN,
  });
  servers.push(server);
  return server;
}

/** Delivers a fresh queued job with these labels; its Job's name and the function's answer. */
async function deliver(server: ServerProcess, labels: string[]) {
  const payload = queuedPayload({ jobId: nextJobId++, labels });
  github.addJob(payload.repository.full_name, payload.workflow_job);
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  const response = await fetch(`${server.url}/webhook`, { method: 'POST', headers, body });
  return {
    name: `runner-${payload.workflow_job.id}`,
    status: response.status,
    body: (await response.json()) as { outcome: string; reason?: string },
  };
}

const podOf = (job: string): Pod | undefined =>
  kubectlJson<{ items: Pod[] }>(['get', 'pods', '-n', NAMESPACE, '-l', `job-name=${job}`]).items[0];
const suspended = (job: string) =>
  kubectlJson<{ spec: { suspend?: boolean } }>(['get', 'job', job, '-n', NAMESPACE]).spec.suspend;

/** A fake node kwok runs pods on: `kubernetes.io/arch` as the kubelet would set it. */
function addNode(name: string, arch: string) {
  kubectl(
    ['apply', '-f', '-'],
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Node',
      metadata: {
        name,
        annotations: { 'node.alpha.kubernetes.io/ttl': '0', 'kwok.x-k8s.io/node': 'fake' },
        labels: {
          'kubernetes.io/hostname': name,
          'kubernetes.io/os': 'linux',
          'kubernetes.io/arch': arch,
          type: 'kwok',
        },
      },
      status: {
        allocatable: { cpu: '32', memory: '256Gi', 'ephemeral-storage': '500Gi', pods: '110' },
        capacity: { cpu: '32', memory: '256Gi', 'ephemeral-storage': '500Gi', pods: '110' },
      },
    }),
  );
  kubectl(['wait', '--for=condition=Ready', `node/${name}`, '--timeout=60s']);
}

function removeNodeReader() {
  kubectlStatus(['delete', 'clusterrolebinding,clusterrole', 'kube-actions-runner-node-reader']);
}

beforeAll(async () => {
  ensureNamespace(ACCOUNT_NAMESPACE);
  kubectl(['apply', '-f', '-'], manifest('rbac.yaml'));
  accountKubeconfig = serviceAccountKubeconfig(
    mkdtempSync(join(tmpdir(), 'kar-e2e-arch-')),
    ACCOUNT_NAMESPACE,
    ACCOUNT,
  );
  github = await startGitHubStandIn({ token: GITHUB_TOKEN });
  kubectl(['delete', 'jobs', '-n', NAMESPACE, '-l', 'app=github-runner', '--wait=true']);
  kubectlStatus(['delete', 'node', ARM_NODE, '--wait=true']);
  removeNodeReader();
});
afterAll(async () => {
  for (const server of servers) await server.stop();
  await github?.close();
  // The other suites expect the one amd64 node and the function's namespaced rights only.
  kubectl(['delete', 'jobs', '-n', NAMESPACE, '-l', 'app=github-runner', '--wait=true']);
  kubectlStatus(['delete', 'node', ARM_NODE, '--wait=true']);
  removeNodeReader();
});

describe('runner pods on the machine their job asks for', () => {
  it('without the node-reading ClusterRole: starts an arm64 job as before, and its pod stays Pending off the amd64 node', async () => {
    const can = kubectlStatus(['auth', 'can-i', 'list', 'nodes', '--as', AS]);
    // kubectl adds a warning that nodes are not namespaced; the answer is the first line.
    expect(can.output.split('\n')[0]).toBe('no');
    const server = await startFunction();
    const arm = await deliver(server, ['self-hosted', 'linux', 'ARM64']);
    expect(arm).toMatchObject({ status: 200, body: { outcome: 'created' } });
    const pod = await waitFor(`the pod of ${arm.name} to be judged by the scheduler`, () => {
      const found = podOf(arm.name);
      return found?.status.conditions?.some((c) => c.type === 'PodScheduled') ? found : undefined;
    });
    expect(pod.spec.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' });
    expect(pod.spec.nodeName).toBeUndefined();
    expect(pod.status.conditions?.find((c) => c.type === 'PodScheduled')).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
    });
    kubectl(['delete', 'job', arm.name, '-n', NAMESPACE, '--wait=true']);
    await server.stop();
  });

  it('with it: an arm64 job waits for an arm64 node and says why, then starts on it; an x64 job goes to the amd64 node', async () => {
    kubectl(['apply', '-f', '-'], manifest('node-reader.yaml'));
    expect(kubectlStatus(['auth', 'can-i', 'list', 'nodes', '--as', AS]).output.split('\n')[0]).toBe('yes');
    // List only: nothing else about nodes.
    expect(kubectlStatus(['auth', 'can-i', 'get', 'nodes', '--as', AS]).output.split('\n')[0]).toBe('no');
    const first = await startFunction();
    const waiting = await deliver(first, ['self-hosted', 'linux', 'arm64']);
    expect(waiting).toEqual({
      name: waiting.name,
      status: 202,
      body: {
        outcome: 'waiting',
        job: waiting.name,
        reason:
          'waiting for a node: no node in the cluster has kubernetes.io/os=linux, kubernetes.io/arch=arm64',
      },
    });
    expect(suspended(waiting.name)).toBe(true);
    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    expect(metrics).toContain('runner_jobs_waiting_for_node_total{os="linux",arch="arm64"} 1');

    const x64 = await deliver(first, ['self-hosted', 'linux', 'x64']);
    expect(x64).toMatchObject({ status: 200, body: { outcome: 'created' } });

    addNode(ARM_NODE, 'arm64');
    // Reconcile (the CronJob's call) meets a fresh instance, as it mostly does under Knative.
    const second = await startFunction();
    const report = (await (
      await fetch(`${second.url}/reconcile`, {
        method: 'POST',
        headers: { authorization: `Bearer ${RECONCILE_TOKEN}` },
      })
    ).json()) as { started: number };
    expect(report.started).toBe(1);
    const arm = await deliver(second, ['self-hosted', 'ARM64']);
    expect(arm).toMatchObject({ status: 200, body: { outcome: 'created' } });

    for (const [job, node] of [
      [waiting.name, ARM_NODE],
      [arm.name, ARM_NODE],
      [x64.name, 'kwok-node-0'],
    ] as const) {
      const pod = await waitFor(`the pod of ${job} to succeed`, () => {
        const found = podOf(job);
        return found?.status.phase === 'Succeeded' ? found : undefined;
      });
      expect(pod.spec.nodeName).toBe(node);
    }
    await first.stop();
    await second.stop();
  });
});
