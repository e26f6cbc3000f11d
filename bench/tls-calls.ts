/**
 * Calls to a Kubernetes API server over TLS, our client against `@kubernetes/client-node` 1.4 in the same run:
 * client-node builds a new agent, hence a new TCP connection and TLS handshake, for every call; ours keeps one
 * connection alive. A loopback HTTPS server with a self-signed certificate (made with the `openssl` CLI) answers a
 * Job for every GET, so the figures are the clients' own cost.
 */
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchV1Api, KubeConfig } from '@kubernetes/client-node';
import { createKubeApi } from '../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';

export interface TlsCallFigures {
  /** Mean ms per call, one call at a time. */
  readonly ours: number;
  readonly clientNode: number;
}

/** Undefined when there is no `openssl` to make the certificate with. */
export async function measureTlsCalls(calls = 300): Promise<TlsCallFigures | undefined> {
  const dir = mkdtempSync(join(tmpdir(), 'kar-bench-tls-'));
  try {
    execFileSync(
      'openssl',
      [
        ...['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '1'],
        ...['-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1'],
        ...['-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem')],
      ],
      { stdio: 'ignore' },
    );
  } catch {
    return undefined;
  }
  const job = JSON.stringify({ apiVersion: 'batch/v1', kind: 'Job', metadata: { name: 'runner-1' } });
  const server = createServer(
    { key: readFileSync(join(dir, 'key.pem')), cert: readFileSync(join(dir, 'cert.pem')) },
    (_request, response) => response.writeHead(200, { 'content-type': 'application/json' }).end(job),
  );
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const kubeconfig = join(dir, 'kubeconfig');
  writeFileSync(
    kubeconfig,
    JSON.stringify({
      apiVersion: 'v1',
      kind: 'Config',
      clusters: [
        {
          name: 'tls',
          cluster: {
            server: `https://127.0.0.1:${(server.address() as AddressInfo).port}`,
            'certificate-authority': join(dir, 'cert.pem'),
          },
        },
      ],
      users: [{ name: 'tls', user: { token: 'bench' } }],
      contexts: [{ name: 'tls', context: { cluster: 'tls', user: 'tls' } }],
      'current-context': 'tls',
    }),
  );
  const ours = createKubeApi(kubeconfigConnection([kubeconfig]));
  const config = new KubeConfig();
  config.loadFromFile(kubeconfig);
  const batch = config.makeApiClient(BatchV1Api);
  const path = '/apis/batch/v1/namespaces/default/jobs/runner-1';
  const mean = async (call: () => Promise<unknown>) => {
    for (let warm = 0; warm < 10; warm += 1) await call();
    const started = performance.now();
    for (let index = 0; index < calls; index += 1) await call();
    return (performance.now() - started) / calls;
  };
  try {
    return {
      ours: await mean(() => ours.request({ method: 'GET', path })),
      clientNode: await mean(() => batch.readNamespacedJob({ name: 'runner-1', namespace: 'default' })),
    };
  } finally {
    ours.close();
    server.closeAllConnections();
    server.close();
  }
}
