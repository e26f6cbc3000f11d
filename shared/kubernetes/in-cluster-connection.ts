import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { KubeConfigError, type KubeConnection } from './kube-connection.js';
import { asBearer, tokenFromFile } from './token-file.js';

/** Where the kubelet mounts a pod's service-account token and the cluster's CA. */
export const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

/**
 * The connection of a pod to its own cluster: `KUBERNETES_SERVICE_HOST`/`_PORT`, the service-account CA, its
 * token, re-read as the kubelet rotates it, and the pod's namespace (the account's `namespace` file).
 */
export function inClusterConnection(
  env: Readonly<Record<string, string | undefined>>,
  serviceAccountDir = SERVICE_ACCOUNT_DIR,
): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT || '443';
  if (!host) throw new KubeConfigError('KUBERNETES_SERVICE_HOST is not set: not running in a pod');
  const tokenPath = join(serviceAccountDir, 'token');
  const caPath = join(serviceAccountDir, 'ca.crt');
  if (!existsSync(tokenPath)) {
    throw new KubeConfigError(
      `no service-account token at ${tokenPath}: is automountServiceAccountToken switched off?`,
    );
  }
  const token = tokenFromFile(tokenPath);
  const namespacePath = join(serviceAccountDir, 'namespace');
  const namespace = existsSync(namespacePath) ? readFileSync(namespacePath, 'utf8').trim() : '';
  // An IPv6 service address needs brackets in a URL.
  const server = new URL(`https://${host.includes(':') ? `[${host}]` : host}:${port}`);
  return {
    server,
    tls: { rejectUnauthorized: true, ...(existsSync(caPath) ? { ca: readFileSync(caPath) } : {}) },
    authorization: asBearer(token),
    source: 'in-cluster',
    ...(namespace ? { namespace } : {}),
  };
}
