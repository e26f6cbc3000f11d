import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SERVICE_ACCOUNT_DIR } from '../kubernetes/in-cluster-connection.js';

type Env = Readonly<Record<string, string | undefined>>;

/** The pod's own namespace, written by the kubelet beside the service-account token. */
export const POD_NAMESPACE_FILE = join(SERVICE_ACCOUNT_DIR, 'namespace');

/**
 * Returns the environment with `NAMESPACE` set to the pod's own namespace when it is unset, read from the
 * service account's `namespace` file as client-go's in-cluster config does. A default Knative install refuses
 * the downward API (`fieldRef`, behind the `kubernetes.podspec-fieldref` feature flag), so a Service cannot pass
 * the namespace in. Outside a pod (no file) the environment is returned as it is, and `loadConfig` applies its
 * default.
 */
export function withPodNamespace(
  env: Env,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Env {
  if ((env.NAMESPACE ?? '').trim() !== '') return env;
  let namespace: string;
  try {
    namespace = read(POD_NAMESPACE_FILE).trim();
  } catch {
    return env;
  }
  return namespace === '' ? env : { ...env, NAMESPACE: namespace };
}
