import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { buildBundle, buildDoctor } from '../../scripts/build.js';

const script = fileURLToPath(new URL('../../scripts/control-plane/cluster.sh', import.meta.url));
const versions = fileURLToPath(new URL('../../scripts/control-plane/versions.env', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    kubeconfig: string;
    kubectl: string;
  }
}

/** Builds the bundle, starts the real control plane (building it first when needed); returns how to use it. */
export async function startCluster(): Promise<{ kubeconfig: string; kubectl: string; stop: () => void }> {
  await buildBundle();
  await buildDoctor();
  const started = spawnSync('bash', [script, 'start'], {
    stdio: ['ignore', 'pipe', 'inherit'],
    encoding: 'utf8',
  });
  if (started.status === 3) {
    throw new Error(
      'npm run test:e2e needs the Go toolchain (1.24+) to build the control plane once; install Go, then run it again',
    );
  }
  if (started.status !== 0) throw new Error(`the control plane did not start (exit ${started.status})`);
  const k8sVersion = /^K8S_VERSION=(\S+)/m.exec(readFileSync(versions, 'utf8'))?.[1];
  const cache =
    process.env.CONTROL_PLANE_CACHE ?? fileURLToPath(new URL('../../.cache/control-plane', import.meta.url));
  const kubeconfig = started.stdout.trim();
  const kubectl = `${cache}/bin/kubectl-${k8sVersion}`;
  keepParamInformer(kubectl, kubeconfig);
  return {
    kubeconfig,
    kubectl,
    stop: () => {
      if (process.env.KEEP_CONTROL_PLANE === '1') return;
      spawnSync('bash', [script, 'stop'], { stdio: 'inherit' });
    },
  };
}

/**
 * A policy binding that names the ConfigMap parameter kind and applies to nothing, kept for the cluster's life.
 * kube-apiserver (1.34 to 1.36) stops the informer of a built-in parameter kind for good once no binding names it;
 * a policy installed after that finds no parameters (every request denied, `no params found`) or stale ones, until
 * the API server restarts (kubernetes/kubernetes#130887, #133827). The suites install and remove the shipped
 * policy in turn; this keeps each install judged by the parameters it applies.
 */
function keepParamInformer(kubectl: string, kubeconfig: string): void {
  const manifest = [
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicy',
      metadata: { name: 'kar-e2e-keep-param-informer' },
      spec: {
        failurePolicy: 'Ignore',
        paramKind: { apiVersion: 'v1', kind: 'ConfigMap' },
        matchConstraints: {
          resourceRules: [
            { apiGroups: [''], apiVersions: ['v1'], operations: ['CREATE'], resources: ['configmaps'] },
          ],
        },
        validations: [{ expression: 'true' }],
      },
    },
    {
      apiVersion: 'admissionregistration.k8s.io/v1',
      kind: 'ValidatingAdmissionPolicyBinding',
      metadata: { name: 'kar-e2e-keep-param-informer' },
      spec: {
        policyName: 'kar-e2e-keep-param-informer',
        validationActions: ['Deny'],
        paramRef: { name: 'kar-e2e-none', parameterNotFoundAction: 'Allow' },
        // No namespace carries this label: the binding applies to nothing.
        matchResources: { namespaceSelector: { matchLabels: { 'kar-e2e/never': 'true' } } },
      },
    },
  ];
  const applied = spawnSync(kubectl, ['--kubeconfig', kubeconfig, 'apply', '-f', '-'], {
    input: JSON.stringify({ apiVersion: 'v1', kind: 'List', items: manifest }),
    encoding: 'utf8',
  });
  if (applied.status !== 0) throw new Error(`could not apply the param-informer binding: ${applied.stderr}`);
}

/**
 * Starts the real control plane once for the suite and stops it afterwards, so no run leaves it behind.
 * `KEEP_CONTROL_PLANE=1` keeps it running for a faster next run while developing.
 */
export default async function setup(project: TestProject): Promise<() => void> {
  const cluster = await startCluster();
  project.provide('kubeconfig', cluster.kubeconfig);
  project.provide('kubectl', cluster.kubectl);
  return cluster.stop;
}
