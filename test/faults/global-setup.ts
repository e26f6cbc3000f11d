import type { TestProject } from 'vitest/node';
import { startCluster } from '../e2e/global-setup.js';

declare module 'vitest' {
  export interface ProvidedContext {
    faultsKubeconfig: string;
  }
}

/**
 * The fault run goes against the real control plane when it can be had (Go available to build it), and against
 * the Kubernetes stand-in otherwise, saying so.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  if (process.env.FAULTS_BACKEND === 'stand-in') {
    project.provide('faultsKubeconfig', '');
    const { buildBundle } = await import('../../scripts/build.js');
    await buildBundle();
    return () => {};
  }
  try {
    const cluster = await startCluster();
    project.provide('faultsKubeconfig', cluster.kubeconfig);
    project.provide('kubectl', cluster.kubectl);
    project.provide('kubeconfig', cluster.kubeconfig);
    return cluster.stop;
  } catch (error) {
    process.stderr.write(
      `fault run: no real control plane (${(error as Error).message}); using the stand-in\n`,
    );
    project.provide('faultsKubeconfig', '');
    return () => {};
  }
}
