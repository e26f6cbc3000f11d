import { readFileSync } from 'node:fs';
import { ConfigError } from './load-config.js';

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
 * can stay in mounted files: Kubernetes Secret volumes, or OpenFaaS's `/var/openfaas/secrets/<key>`. A setting
 * given both ways (both non-empty) is a problem, not a silent choice: which one is stale cannot be told (the
 * official Docker images' `file_env` refuses it too). Throws one ConfigError naming every problem: each file that
 * cannot be read (variable and path), each setting given twice.
 */
export function readSecretFiles(
  env: Env,
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): Env {
  const problems: string[] = [];
  const { env: resolved } = readSecretFilesInto(env, problems, read);
  if (problems.length > 0) throw new ConfigError(problems);
  return resolved;
}

/**
 * `readSecretFiles` for a caller that reports these problems with others (the function's start): each unreadable
 * file or doubly given setting is a problem pushed onto `problems` (never a value), and its setting is left as
 * it was. `unread` names the settings whose file could not be read, so that the caller can leave out what follows
 * from their absence ("WEBHOOK_SECRET is required").
 */
export function readSecretFilesInto(
  env: Env,
  problems: string[],
  read: (path: string) => string = (path) => readFileSync(path, 'utf8'),
): { env: Env; unread: readonly string[] } {
  const resolved: Record<string, string | undefined> = { ...env };
  const unread: string[] = [];
  for (const name of SECRET_SETTINGS) {
    const path = env[`${name}_FILE`];
    if (path === undefined || path === '') continue;
    if ((env[name] ?? '') !== '') {
      problems.push(`${name} and ${name}_FILE are both set: set one of them`);
      continue;
    }
    try {
      resolved[name] = read(path).replace(/\r?\n$/, '');
    } catch (error) {
      problems.push(`${name}_FILE: cannot read ${path}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`);
      unread.push(name);
    }
  }
  return { env: resolved, unread };
}
