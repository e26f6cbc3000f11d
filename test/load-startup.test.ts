import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { loadStartup } from '../functions/webhook/load-startup.js';
import { ConfigError } from '../shared/config/load-config.js';
import { inClusterConnection } from '../shared/kubernetes/in-cluster-connection.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { tempDir } from './support/temp-dir.js';

const minimal = { WEBHOOK_SECRET: 'hook-secret', GITHUB_TOKEN: 'github_pat_123' };

/** A kubeconfig whose current context sets `namespace` (or none). */
function kubeconfig(namespace?: string): string {
  const path = join(tempDir('startup'), 'config');
  writeFileSync(
    path,
    dump({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [{ name: 'c', cluster: { server: 'https://cluster.example' } }],
      users: [{ name: 'u', user: { token: 'kube-token' } }],
      contexts: [{ name: 'x', context: { cluster: 'c', user: 'u', ...(namespace ? { namespace } : {}) } }],
      'current-context': 'x',
    }),
  );
  return path;
}

/** A pod's service-account folder, as the kubelet mounts it. */
function serviceAccount(namespace: string): string {
  const dir = join(tempDir('startup-pod'), 'serviceaccount');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'token'), 'sa-token');
  writeFileSync(join(dir, 'namespace'), `${namespace}\n`);
  return dir;
}

function problemsOf(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('no ConfigError');
}

const noKube = () => {
  throw new Error(
    'no Kubernetes credentials found: run in a pod with a service account, set KUBECONFIG, ...',
  );
};

describe('loadStartup', () => {
  it('reports configuration, *_FILE and Kubernetes problems in one go, not one stage at a time', () => {
    const problems = problemsOf(() =>
      loadStartup(
        { ...minimal, RUNNER_MODE: 'rootful', RECONCILE_TOKEN_FILE: '/nowhere/reconcile-token' },
        { loadKube: noKube },
      ),
    );
    expect(problems).toEqual([
      'RECONCILE_TOKEN_FILE: cannot read /nowhere/reconcile-token: ENOENT',
      'RUNNER_MODE must be one of standard, userns, dind, dind-rootless, got "rootful"',
      'could not load a Kubernetes config: no Kubernetes credentials found: run in a pod with a service account, set KUBECONFIG, ...',
    ]);
  });

  it('does not add "X is required" for a setting whose file could not be read', () => {
    const problems = problemsOf(() =>
      loadStartup(
        { GITHUB_TOKEN: 'github_pat_123', WEBHOOK_SECRET_FILE: '/nowhere/webhook-secret' },
        { loadKube: () => kubeconfigConnection([kubeconfig()]) },
      ),
    );
    expect(problems).toEqual(['WEBHOOK_SECRET_FILE: cannot read /nowhere/webhook-secret: ENOENT']);
  });

  it("uses the kubeconfig's current-context namespace when NAMESPACE is unset, as kubectl does", () => {
    const env = { ...minimal, KUBECONFIG: kubeconfig('team-runners') };
    expect(loadStartup(env).config.namespace).toBe('team-runners');
    expect(loadStartup({ ...env, NAMESPACE: 'elsewhere' }).config.namespace).toBe('elsewhere');
    expect(loadStartup({ ...env, NAMESPACE: ' ' }).config.namespace).toBe('team-runners');
    expect(loadStartup({ ...minimal, KUBECONFIG: kubeconfig() }).config.namespace).toBe('default');
  });

  it("in a pod, uses the service account's namespace file when NAMESPACE is unset", () => {
    const dir = serviceAccount('github-runners');
    const inCluster = (env: Readonly<Record<string, string | undefined>>) =>
      inClusterConnection({ ...env, KUBERNETES_SERVICE_HOST: '10.96.0.1' }, dir);
    expect(loadStartup(minimal, { loadKube: inCluster }).config.namespace).toBe('github-runners');
    expect(loadStartup({ ...minimal, NAMESPACE: 'jobs' }, { loadKube: inCluster }).config.namespace).toBe(
      'jobs',
    );
  });

  it("passes the connection's namespace through the configuration's validation", () => {
    const problems = problemsOf(() => loadStartup({ ...minimal, KUBECONFIG: kubeconfig('Not_A_Namespace') }));
    expect(problems).toEqual(['NAMESPACE must be a valid Kubernetes namespace name, got "Not_A_Namespace"']);
  });
});
