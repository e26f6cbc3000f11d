import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { createKubeApi, type KubeApi } from '../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { clusterArchitectures, createNodeReader } from '../shared/kubernetes/node-platforms.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';

const node = (name: string, os: string | undefined, arch: string | undefined) => ({
  name,
  labels: {
    ...(os === undefined ? {} : { 'kubernetes.io/os': os }),
    ...(arch === undefined ? {} : { 'kubernetes.io/arch': arch }),
  },
});

describe('clusterArchitectures', () => {
  it('counts the nodes of each OS and architecture, sorted', () => {
    expect(
      clusterArchitectures([
        node('a', 'linux', 'arm64'),
        node('b', 'linux', 'amd64'),
        node('c', 'linux', 'arm64'),
        node('d', 'windows', 'amd64'),
        node('e', undefined, undefined),
      ]),
    ).toEqual([
      { os: 'linux', arch: 'amd64', nodes: 1 },
      { os: 'linux', arch: 'arm64', nodes: 2 },
      { os: 'unknown', arch: 'unknown', nodes: 1 },
      { os: 'windows', arch: 'amd64', nodes: 1 },
    ]);
    expect(clusterArchitectures([])).toEqual([]);
  });
});

describe('createNodeReader', () => {
  let kubernetes: KubernetesStandIn;
  let api: KubeApi;
  let dir: string;
  afterEach(async () => {
    api.close();
    await kubernetes.close();
    rmSync(dir, { recursive: true, force: true });
  });
  async function start() {
    kubernetes = await startKubernetesStandIn();
    dir = mkdtempSync(join(tmpdir(), 'kar-nodes-'));
    const kubeconfig = kubernetes.writeKubeconfig(dir);
    api = createKubeApi(kubeconfigConnection([kubeconfig]));
  }

  it('answers whether a node has the labels, once for a burst of questions, and again after its window', async () => {
    await start();
    kubernetes.setNodes([node('a', 'linux', 'amd64')]);
    let clock = 0;
    const reader = createNodeReader(api, { cacheMs: 1000, now: () => clock });
    const arm = { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' };
    expect(await Promise.all(Array.from({ length: 20 }, () => reader.hasNode(arm)))).toEqual(
      Array(20).fill(false),
    );
    expect(kubernetes.requestCounts.get('GET nodes')).toBe(1);
    expect(await reader.hasNode({ 'kubernetes.io/arch': 'amd64' })).toBe(true);
    kubernetes.setNodes([node('a', 'linux', 'amd64'), node('b', 'linux', 'arm64')]);
    expect(await reader.hasNode(arm)).toBe(false);
    clock = 1000;
    expect(await reader.hasNode(arm)).toBe(true);
  });

  it('answers "unknown" without the permission to list nodes (403), and lists nothing', async () => {
    await start();
    const reader = createNodeReader(api);
    expect(await reader.hasNode({ 'kubernetes.io/arch': 'arm64' })).toBeUndefined();
    expect(await reader.listNodes()).toBeUndefined();
  });

  it('lists every node with its labels', async () => {
    await start();
    kubernetes.setNodes([node('a', 'linux', 'amd64'), node('b', 'linux', 'arm64')]);
    const nodes = await createNodeReader(api).listNodes();
    expect(clusterArchitectures(nodes ?? [])).toEqual([
      { os: 'linux', arch: 'amd64', nodes: 1 },
      { os: 'linux', arch: 'arm64', nodes: 1 },
    ]);
  });
});
