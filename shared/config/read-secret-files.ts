import { readFileSync } from 'node:fs';

/** Settings that may come from a mounted file through `<NAME>_FILE` instead of the environment. */
export const SECRET_SETTINGS = [
  'WEBHOOK_SECRET',
  'WEBHOOK_SECRET_PREVIOUS',
  'WEBHOOK_SECRETS',
  'GITHUB_TOKEN',
  'GITHUB_TOKENS',
  'GITHUB_APP_PRIVATE_KEY',
  'RECONCILE_TOKEN',
  // Not a secret, but mounted from a ConfigMap the same way.
  'RUNNER_PROFILES',
] as const;

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Returns the environment with each `<NAME>_FILE` read into `<NAME>` (one trailing newline dropped), so secrets
 * can stay in mounted files: Kubernetes Secret volumes, or OpenFaaS's `/var/openfaas/secrets/<key>`. A value set
 * directly wins. Throws naming the variable and path when a file cannot be read.
 */
export function readSecretFiles(
  env: Env,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Env {
  const resolved: Record<string, string | undefined> = { ...env };
  for (const name of SECRET_SETTINGS) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '' || (env[name] ?? '') !== '') continue;
    try {
      resolved[name] = read(path).replace(/\r?\n$/, '');
    } catch (error) {
      throw new Error(
        `${name}_FILE: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      );
    }
  }
  return resolved;
}
