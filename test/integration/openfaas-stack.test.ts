/**
 * The function started the way stack.yml starts it on OpenFaaS: the stack's environment as it stands, the
 * secrets as files in a folder laid out like /var/openfaas/secrets, and OpenFaaS's health path. The OpenFaaS
 * CLI itself cannot be built here (its Go module is not served by the proxy this machine reaches).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadYaml } from '@kubernetes/client-node';
import { afterAll, describe, expect, it } from 'vitest';
import { startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { startServerProcess } from '../../stand-ins/server-process.js';
import { tempDir } from '../support/temp-dir.js';

type Stack = {
  provider: { name: string };
  functions: Record<
    string,
    {
      image: string;
      environment: Record<string, string>;
      secrets: string[];
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }
  >;
};
const stack = loadYaml<Stack>(readFileSync(new URL('../../stack.yml', import.meta.url), 'utf8'));
const fn = stack.functions['kube-actions-runner'];
const cleanups: (() => Promise<unknown>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe('stack.yml', () => {
  it('is an OpenFaaS stack with one function, scale-to-zero, its secret and health path', () => {
    expect(stack.provider.name).toBe('openfaas');
    expect(fn?.secrets).toEqual(['kube-actions-runner-secrets']);
    expect(fn?.labels['com.openfaas.scale.zero']).toBe('true');
    expect(fn?.annotations['com.openfaas.health.http.path']).toBe('/_/health');
    // Secrets come from files, never plain environment values.
    for (const [name, value] of Object.entries(fn?.environment ?? {})) {
      if (/SECRET|TOKEN/.test(name))
        expect(name.endsWith('_FILE') && value.startsWith('/var/openfaas/secrets/')).toBe(true);
    }
  });

  it('starts as the stack says and answers a signed webhook and the health probe', async () => {
    const github = await startGitHubStandIn({ token: 'github_pat_faas' });
    const kubernetes = await startKubernetesStandIn();
    cleanups.push(github.close, kubernetes.close);
    const secrets = tempDir('openfaas-secrets');
    writeFileSync(join(secrets, 'webhook-secret'), 'faas-webhook-secret\n');
    writeFileSync(join(secrets, 'github-token'), 'github_pat_faas\n');
    writeFileSync(join(secrets, 'reconcile-token'), 'faas-reconcile\n');
    // The stack's environment, with the secrets folder where this test laid it out.
    // On a free port instead of the stack's 8080, which may be taken on a test machine.
    expect(fn?.environment.PORT).toBe('8080');
    const env = Object.fromEntries(
      Object.entries(fn?.environment ?? {})
        .filter(([name]) => name !== 'PORT')
        .map(([name, value]) => [name, value.replace('/var/openfaas/secrets', secrets)]),
    );
    const server = await startServerProcess({
      ...env,
      GITHUB_API_URL: github.url,
      KUBECONFIG: kubernetes.writeKubeconfig(secrets),
      NAMESPACE: 'default',
    });
    cleanups.unshift(server.stop);
    expect((await fetch(`${server.url}/_/health`)).status).toBe(200);
    const payload = queuedPayload({ jobId: 31337 });
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const { headers, body } = await signedDelivery(payload, 'faas-webhook-secret');
    const response = await fetch(`${server.url}/`, { method: 'POST', headers, body });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ outcome: 'created', job: 'runner-31337' });
    const reconcile = await fetch(`${server.url}/reconcile`, {
      method: 'POST',
      headers: { authorization: 'Bearer faas-reconcile' },
    });
    expect(reconcile.status).toBe(200);
  });
});
