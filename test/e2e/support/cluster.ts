import { execFileSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { inject } from 'vitest';

/** Runs the real kubectl as the cluster admin; returns stdout. */
export function kubectl(args: string[], input?: string): string {
  return execFileSync(inject('kubectl'), ['--kubeconfig', inject('kubeconfig'), ...args], {
    encoding: 'utf8',
    ...(input === undefined ? {} : { input }),
    stdio: ['pipe', 'pipe', 'pipe'],
  });
}

/** Like `kubectl`, but returns the exit status and output instead of throwing (for `auth can-i`). */
export function kubectlStatus(args: string[]): { status: number; output: string } {
  try {
    return { status: 0, output: kubectl(args) };
  } catch (error) {
    const failure = error as { status?: number; stdout?: string; stderr?: string };
    return { status: failure.status ?? 1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

export function kubectlJson<T>(args: string[]): T {
  return JSON.parse(kubectl([...args, '-o', 'json'])) as T;
}

/** Polls until `check` returns a value other than undefined, or fails after `timeoutMs`. */
export async function waitFor<T>(what: string, check: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/**
 * A kubeconfig for a ServiceAccount, with a token from the TokenRequest API (`kubectl create token`): what the
 * function holds in a pod, so the real authorizer judges every call it makes.
 */
export function serviceAccountKubeconfig(dir: string, namespace: string, account: string): string {
  const token = kubectl(['create', 'token', account, '-n', namespace, '--duration', '3600s']).trim();
  const admin = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])) as {
    clusters: { cluster: { server: string; 'certificate-authority-data'?: string } }[];
  };
  const cluster = admin.clusters[0]?.cluster;
  if (!cluster) throw new Error('the admin kubeconfig has no cluster');
  const path = join(dir, `${account}.kubeconfig`);
  writeFileSync(
    path,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'e2e', cluster }],
      users: [{ name: account, user: { token } }],
      contexts: [{ name: account, context: { cluster: 'e2e', user: account, namespace } }],
      'current-context': account,
    }),
  );
  return path;
}

/** Creates the namespace unless it exists (suites share the cluster and leave their namespaces to its end). */
export function ensureNamespace(name: string): void {
  kubectl(['apply', '-f', '-'], JSON.stringify({ apiVersion: 'v1', kind: 'Namespace', metadata: { name } }));
}
