import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';

/**
 * Finds the Kubernetes credentials the way kubectl does: `KUBECONFIG`, then `~/.kube/config`, then the pod's
 * service account. Unlike `KubeConfig.loadFromDefault`, it never falls back to an unauthenticated
 * `http://localhost:8080`: with nothing found it throws, so a misconfigured function stops at start with a clear
 * message instead of failing every delivery later.
 */
export function loadKubeConfig(env: Readonly<Record<string, string | undefined>>): KubeConfig {
  const kubeConfig = new KubeConfig();
  const home = env.HOME ?? homedir();
  if (env.KUBECONFIG || existsSync(join(home, '.kube', 'config'))) {
    kubeConfig.loadFromDefault();
  } else if (env.KUBERNETES_SERVICE_HOST) {
    kubeConfig.loadFromCluster();
  } else {
    throw new Error(
      'no Kubernetes credentials found: run in a pod with a service account, set KUBECONFIG, or create ~/.kube/config',
    );
  }
  if (kubeConfig.getCurrentCluster() === null) {
    throw new Error('the Kubernetes config names no current cluster: check its current-context');
  }
  return kubeConfig;
}
