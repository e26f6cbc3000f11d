import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { startCluster } from '../e2e/global-setup.js';

const script = fileURLToPath(new URL('../../scripts/node/node.sh', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    /** The real node's name. */
    node: string;
    /** Debian's static busybox as an image, imported into the node's containerd (never pulled). */
    busyboxImage: string;
  }
}

/** Starts the node (building it first when needed); returns what `node.sh start` printed, as key=value pairs. */
function startNode(): Map<string, string> {
  const started = spawnSync('bash', [script, 'start'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (started.status === 3) {
    throw new Error('npm run test:node needs Go (1.26+) and, as root, apt-get to build the node once');
  }
  if (started.status !== 0) throw new Error(`the node did not start (exit ${started.status})`);
  return new Map(
    started.stdout
      .trim()
      .split('\n')
      .map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]),
  );
}

/**
 * Starts the control plane and the real node once for the suite, and stops both afterwards (the node first, so
 * that its pods are stopped through the kubelet). `KEEP_CONTROL_PLANE=1` keeps both running.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const cluster = await startCluster();
  const node = startNode();
  const name = node.get('node');
  const busyboxImage = node.get('busybox_image');
  if (!name || !busyboxImage) throw new Error('node.sh start did not print the node and its busybox image');
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('kubectl', cluster.kubectl);
  project.provide('node', name);
  project.provide('busyboxImage', busyboxImage);
  return () => {
    if (process.env.KEEP_CONTROL_PLANE === '1') return;
    spawnSync('bash', [script, 'stop'], { stdio: 'inherit' });
    cluster.stop();
  };
}
