/**
 * The real API server through a loopback CONNECT proxy: a kubeconfig cluster's `proxy-url` carries the function's
 * calls (even to a loopback server, which an environment proxy would skip), and TLS inside the tunnel is verified
 * against the cluster's own CA and serving certificate.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyEnv } from '../../shared/config/parse-proxy-env.js';
import { createKubeApi } from '../../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../../shared/kubernetes/kubeconfig-connection.js';
import { type ConnectProxy, startConnectProxy } from '../support/connect-proxy.js';
import { kubectl } from './support/cluster.js';

interface RawKubeconfig {
  clusters: { name: string; cluster: Record<string, unknown> }[];
}

let proxy: ConnectProxy;
beforeAll(async () => {
  proxy = await startConnectProxy();
});
afterAll(() => proxy.close());

/** The admin kubeconfig with `cluster` merged into its cluster. */
function adminWith(cluster: Record<string, unknown>): string {
  const admin = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '-o', 'json'])) as RawKubeconfig;
  for (const entry of admin.clusters) Object.assign(entry.cluster, cluster);
  const path = join(mkdtempSync(join(tmpdir(), 'kar-e2e-proxy-')), 'kubeconfig');
  writeFileSync(path, JSON.stringify(admin));
  return path;
}

describe('the API server through a proxy-url', () => {
  it('tunnels every call through it, TLS verified against the cluster CA', async () => {
    const connection = kubeconfigConnection([adminWith({ 'proxy-url': proxy.url })]);
    // The environment says not to proxy; a cluster's proxy-url wins, as in client-go.
    const problems: string[] = [];
    const api = createKubeApi(connection, parseProxyEnv({ NO_PROXY: '*' }, problems));
    const namespace = await api.request<{ metadata: { name: string } }>({
      method: 'GET',
      path: '/api/v1/namespaces/default',
    });
    await api.request({ method: 'GET', path: '/api/v1/namespaces/kube-system' });
    api.close();
    expect(namespace.metadata.name).toBe('default');
    // One tunnel, to the API server, kept alive for the second call.
    expect(proxy.passed.map((passed) => `${passed.method} ${passed.target}`)).toEqual([
      `CONNECT ${connection.server.host}`,
    ]);
  });

  it('refuses the API server behind the tunnel when its certificate does not name the address', async () => {
    const connection = kubeconfigConnection([
      adminWith({ 'proxy-url': proxy.url, 'tls-server-name': 'not-the-apiserver.example' }),
    ]);
    const api = createKubeApi(connection);
    await expect(api.request({ method: 'GET', path: '/api/v1/namespaces/default' })).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    api.close();
    // The tunnel was opened: the refusal is the client's, inside it.
    expect(proxy.passed.map((passed) => passed.target)).toEqual([
      connection.server.host,
      connection.server.host,
    ]);
  });
});
