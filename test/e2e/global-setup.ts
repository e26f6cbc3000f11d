import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { buildBundle, buildDoctor } from '../../scripts/build.js';

const script = fileURLToPath(new URL('../../scripts/control-plane/cluster.sh', import.meta.url));
const versions = fileURLToPath(new URL('../../scripts/control-plane/versions.env', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
  }
}

/** Builds the bundle, starts the real control plane (building it first when needed); returns how to use it. */
export async function startCluster(): Promise<{ kubeconfig: string; kubectl: string; stop: () => void }> {
  await buildBundle();
  await buildDoctor();
  const started = spawnSync('bash', [script, 'start'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (started.status === 3) {
    throw new Error(
      'npm run test:e2e needs the Go toolchain (1.24+) to build the control plane once; install Go, then run it again',
    );
  }
  if (started.status !== 0) throw new Error(`the control plane did not start (exit ${started.status})`);
  const k8sVersion = /^K8S_VERSION=(\S+)/m.exec(readFileSync(versions, 'utf8'))?.[1];
  const cache =
    process.env.CONTROL_PLANE_CACHE ?? fileURLToPath(new URL('../../.cache/control-plane', import.meta.url));
  return {
    kubeconfig: started.stdout.trim(),
    kubectl: `${cache}/bin/kubectl-${k8sVersion}`,
    stop: () => {
      if (process.env.KEEP_CONTROL_PLANE === '1') return;
      spawnSync('bash', [script, 'stop'], { stdio: 'inherit' });
    },
  };
}

/**
 * Starts the real control plane once for the suite and stops it afterwards, so no run leaves it behind.
 * `KEEP_CONTROL_PLANE=1` keeps it running for a faster next run while developing.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const cluster = await startCluster();
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('kubectl', cluster.kubectl);
  return cluster.stop;
}
