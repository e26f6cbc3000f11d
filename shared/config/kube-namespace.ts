type Env = Readonly<Record<string, string | undefined>>;

/**
 * Returns the environment with `NAMESPACE` set, when it is unset (or blank), to the namespace of the Kubernetes
 * connection the function uses, as kubectl and client-go choose it: from a kubeconfig, its current context's
 * `namespace`; in a pod, the service account's `namespace` file (a default Knative install refuses the downward
 * API's `fieldRef`, so a Service cannot pass its namespace in). `NAMESPACE` set wins over both; with neither,
 * `loadConfig` applies its default (`default`).
 */
export function withKubeNamespace(env: Env, connection: { readonly namespace?: string } | undefined): Env {
  if ((env.NAMESPACE ?? '').trim() !== '') return env;
  const namespace = connection?.namespace?.trim();
  return namespace ? { ...env, NAMESPACE: namespace } : env;
}
