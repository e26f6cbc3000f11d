import { existsSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, join } from 'node:path';
import { inClusterConnection } from './in-cluster-connection.js';
import { KubeConfigError, type KubeConnection } from './kube-connection.js';
import { kubeconfigConnection } from './kubeconfig-connection.js';

/**
 * Finds the Kubernetes credentials the way kubectl does: `KUBECONFIG` (a list, merged), then `~/.kube/config`,
 * then the pod's service account. It never falls back to an unauthenticated `http://localhost:8080`: with
 * nothing found it throws, so a misconfigured function stops at start with a clear message instead of failing
 * every delivery later.
 */
export function loadKubeConnection(env: Readonly<Record<string, string | undefined>>): KubeConnection {
  if (env.KUBECONFIG) return kubeconfigConnection(env.KUBECONFIG.split(delimiter));
  const home = join(env.HOME ?? homedir(), '.kube', 'config');
  if (existsSync(home)) return kubeconfigConnection([home]);
  if (env.KUBERNETES_SERVICE_HOST) return inClusterConnection(env);
  throw new KubeConfigError(
    'no Kubernetes credentials found: run in a pod with a service account, set KUBECONFIG, or create ~/.kube/config',
  );
}
