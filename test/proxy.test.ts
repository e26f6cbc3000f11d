/**
 * Corporate proxies: the function's GitHub and API-server calls (and any plain-HTTP target) go through a real (loopback) HTTP
 * proxy when HTTPS_PROXY/HTTP_PROXY or a kubeconfig's proxy-url say so, reach NO_PROXY hosts directly, and keep
 * verifying the target's TLS certificate inside the tunnel. The proxy resolves the `.test` names only for itself.
 */

import { lookup as dnsLookup } from 'node:dns';
import { once } from 'node:events';
import { readFileSync, writeFileSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, LookupFunction } from 'node:net';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseProxyEnv } from '../shared/config/parse-proxy-env.js';
import { createCredentials } from '../shared/github/credentials.js';
import { createGitHubClient } from '../shared/github/github-client.js';
import { createHttpFetch } from '../shared/http/http-fetch.js';
import { createKubeApi } from '../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { type ConnectProxy, startConnectProxy } from './support/connect-proxy.js';
import { tempDir } from './support/temp-dir.js';

const fixture = (name: string) => readFileSync(new URL(`./fixtures/tls/${name}`, import.meta.url));
const ca = fixture('ca.crt');

interface Seen {
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingMessage['headers'];
}

/** Resolves the stand-ins' `.test` names to loopback for direct connections; anything else as usual. */
const lookup = ((hostname: string, options: { all?: boolean }, callback: (...args: unknown[]) => void) => {
  if (!hostname.endsWith('.test')) {
    dnsLookup(hostname, options, callback as never);
    return;
  }
  if (options.all) callback(null, [{ address: '127.0.0.1', family: 4 }]);
  else callback(null, '127.0.0.1', 4);
}) as unknown as LookupFunction;

const env = (values: Record<string, string>) => {
  const problems: string[] = [];
  const proxy = parseProxyEnv(values, problems);
  expect(problems).toEqual([]);
  return proxy;
};

let tlsPort: number;
let httpPort: number;
const tlsSeen: Seen[] = [];
const httpSeen: Seen[] = [];
const closers: (() => void)[] = [];

beforeAll(async () => {
  // GitHub and the API server: one HTTPS server whose certificate (from the test CA) names both.
  const tls = createHttpsServer({ key: fixture('server.key'), cert: fixture('server.crt') }, (req, res) => {
    tlsSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    const body =
      req.url === '/repos/octo/hello/actions/jobs/42'
        ? { id: 42, status: 'queued', labels: ['self-hosted'], runner_name: null }
        : req.url === '/api/v1/namespaces/default'
          ? { kind: 'Namespace', metadata: { name: 'default' } }
          : undefined;
    res.writeHead(body ? 200 : 404, { 'content-type': 'application/json' }).end(JSON.stringify(body ?? {}));
  });
  // A plain-HTTP target (a GitHub Enterprise Server on http://, say).
  const http = createHttpServer((req, res) => {
    req.resume();
    httpSeen.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers });
    res.writeHead(200).end();
  });
  for (const server of [tls, http]) {
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    closers.push(() => {
      server.closeAllConnections();
      server.close();
    });
  }
  tlsPort = (tls.address() as AddressInfo).port;
  httpPort = (http.address() as AddressInfo).port;
});
afterAll(() => {
  for (const close of closers) close();
});

async function proxy(options: Parameters<typeof startConnectProxy>[0] = {}): Promise<ConnectProxy> {
  const started = await startConnectProxy(options);
  closers.push(started.close);
  return started;
}

function githubClient(baseUrl: string, httpFetch: ReturnType<typeof createHttpFetch>) {
  const fetch = httpFetch as unknown as typeof globalThis.fetch;
  return createGitHubClient({
    baseUrl,
    fetch,
    credentials: createCredentials(
      { kind: 'tokens', tokens: new Map(), fallbackToken: 'ghp_secret' },
      baseUrl,
      fetch,
    ),
  });
}

function kubeconfig(extra: Record<string, unknown> = {}): string {
  const path = join(tempDir('proxy'), 'config');
  writeFileSync(
    path,
    dump({
      clusters: [
        {
          name: 'c',
          cluster: {
            server: `https://kubernetes.test:${tlsPort}`,
            'certificate-authority-data': ca.toString('base64'),
            ...extra,
          },
        },
      ],
      users: [{ name: 'u', user: { token: 'kube-token' } }],
      contexts: [{ name: 'c', context: { cluster: 'c', user: 'u' } }],
      'current-context': 'c',
    }),
  );
  return path;
}

describe('through an HTTP proxy', () => {
  it('GitHub calls tunnel through HTTPS_PROXY with its credentials, the token only inside TLS', async () => {
    const corporate = await proxy();
    const httpFetch = createHttpFetch({
      proxy: env({ HTTPS_PROXY: `http://alice:s%40cret@${new URL(corporate.url).host}` }),
      tls: { ca },
    });
    const github = githubClient(`https://api.github.test:${tlsPort}`, httpFetch);
    const before = tlsSeen.length;
    expect((await github.getJob({ owner: 'octo', repo: 'hello' }, 42)).status).toBe('queued');
    expect((await github.getJob({ owner: 'octo', repo: 'hello' }, 42)).status).toBe('queued');
    httpFetch.close();
    // One tunnel, kept alive for the second call.
    expect(corporate.passed).toEqual([
      {
        method: 'CONNECT',
        target: `api.github.test:${tlsPort}`,
        host: `api.github.test:${tlsPort}`,
        proxyAuthorization: `Basic ${Buffer.from('alice:s@cret').toString('base64')}`,
      },
    ]);
    const seen = tlsSeen.slice(before);
    expect(seen.map((request) => request.headers.authorization)).toEqual([
      'token ghp_secret',
      'token ghp_secret',
    ]);
    expect(seen.every((request) => request.headers['proxy-authorization'] === undefined)).toBe(true);
    expect(seen[0]?.headers.host).toBe(`api.github.test:${tlsPort}`);
  });

  it('Kubernetes calls go through HTTPS_PROXY, and through a kubeconfig proxy-url whatever NO_PROXY says', async () => {
    const corporate = await proxy();
    const fromEnv = createKubeApi(kubeconfigConnection([kubeconfig()]), env({ https_proxy: corporate.url }));
    expect(await fromEnv.request({ method: 'GET', path: '/api/v1/namespaces/default' })).toMatchObject({
      kind: 'Namespace',
    });
    fromEnv.close();
    expect(corporate.passed.map((passed) => `${passed.method} ${passed.target}`)).toEqual([
      `CONNECT kubernetes.test:${tlsPort}`,
    ]);

    const perCluster = await proxy();
    const fromKubeconfig = createKubeApi(
      kubeconfigConnection([kubeconfig({ 'proxy-url': perCluster.url })]),
      env({ HTTPS_PROXY: corporate.url, NO_PROXY: 'kubernetes.test' }),
    );
    const before = tlsSeen.length;
    await fromKubeconfig.request({ method: 'GET', path: '/api/v1/namespaces/default' });
    fromKubeconfig.close();
    expect(perCluster.passed.map((passed) => `${passed.method} ${passed.target}`)).toEqual([
      `CONNECT kubernetes.test:${tlsPort}`,
    ]);
    expect(corporate.passed).toHaveLength(1);
    expect(tlsSeen.slice(before).map((request) => request.headers.authorization)).toEqual([
      'Bearer kube-token',
    ]);
  });

  it('a plain-HTTP target is forwarded by HTTP_PROXY (absolute URL, no CONNECT), or reached directly when NO_PROXY says', async () => {
    const corporate = await proxy();
    const push = async (variables: Record<string, string>) => {
      const httpFetch = createHttpFetch({ proxy: env(variables), lookup });
      await httpFetch(`http://pushgateway.test:${httpPort}/metrics/job/kar`, {
        method: 'PUT',
        body: 'x 1\n',
      });
      httpFetch.close();
    };
    const through = `http://bob:pw@${new URL(corporate.url).host}`;

    await push({ HTTP_PROXY: through, HTTPS_PROXY: through });
    expect(corporate.passed.length).toBeGreaterThan(0);
    for (const passed of corporate.passed) {
      expect(passed.method).toBe('PUT');
      expect(passed.target).toMatch(new RegExp(`^http://pushgateway\\.test:${httpPort}/metrics/job/kar`));
      expect(passed.host).toBe(`pushgateway.test:${httpPort}`);
      expect(passed.proxyAuthorization).toBe(`Basic ${Buffer.from('bob:pw').toString('base64')}`);
    }
    // The target itself never sees the proxy's credentials.
    expect(httpSeen.at(-1)?.headers['proxy-authorization']).toBeUndefined();

    const passedBefore = corporate.passed.length;
    const seenBefore = httpSeen.length;
    await push({ HTTP_PROXY: through, HTTPS_PROXY: through, NO_PROXY: 'example.com, .test' });
    expect(corporate.passed).toHaveLength(passedBefore);
    expect(httpSeen.length).toBeGreaterThan(seenBefore);
  });

  it('a NO_PROXY host is reached directly over verified TLS', async () => {
    const corporate = await proxy();
    const httpFetch = createHttpFetch({
      proxy: env({ HTTPS_PROXY: corporate.url, NO_PROXY: 'github.test' }),
      tls: { ca },
      lookup,
    });
    const response = await httpFetch(`https://api.github.test:${tlsPort}/repos/octo/hello/actions/jobs/42`);
    httpFetch.close();
    expect(await response.json()).toMatchObject({ id: 42, status: 'queued' });
    expect(corporate.passed).toEqual([]);
  });
});

describe('TLS inside the tunnel', () => {
  it('refuses a proxy that answers for the target with its own certificate, before sending anything', async () => {
    const impostor = await proxy({
      impostor: { key: fixture('impostor.key'), cert: fixture('impostor.crt') },
    });
    const httpFetch = createHttpFetch({ proxy: env({ HTTPS_PROXY: impostor.url }), tls: { ca } });
    await expect(
      httpFetch(`https://api.github.test:${tlsPort}/repos/octo/hello/actions/jobs/42`, {
        headers: { authorization: 'token ghp_secret' },
      }),
    ).rejects.toMatchObject({ code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    httpFetch.close();
    expect(impostor.passed.map((passed) => passed.method)).toEqual(['CONNECT']);
    expect(impostor.intercepted).toEqual([]);
  });

  it("verifies the target's name, not the proxy's", async () => {
    const corporate = await proxy();
    const httpFetch = createHttpFetch({ proxy: env({ HTTPS_PROXY: corporate.url }), tls: { ca } });
    // The proxy tunnels to the same server, whose certificate does not name other.test.
    await expect(httpFetch(`https://other.test:${tlsPort}/`)).rejects.toMatchObject({
      code: 'ERR_TLS_CERT_ALTNAME_INVALID',
    });
    httpFetch.close();
    expect(corporate.passed.map((passed) => passed.target)).toEqual([`other.test:${tlsPort}`]);
  });

  it('a proxy that refuses the tunnel fails the call with its status, never with the credentials', async () => {
    const refusing = await proxy({ refuse: 407 });
    const httpFetch = createHttpFetch({
      proxy: env({ HTTPS_PROXY: `http://alice:s3cret@${new URL(refusing.url).host}` }),
      tls: { ca },
    });
    const error = await httpFetch(`https://api.github.test:${tlsPort}/`).catch((caught: unknown) => caught);
    httpFetch.close();
    expect(error).toBeInstanceOf(Error);
    expect((error as Error).message).toBe(
      `proxy ${new URL(refusing.url).host} refused a tunnel to api.github.test:${tlsPort} (407)`,
    );
    expect((error as Error).message).not.toMatch(/alice|s3cret/);
  });
});
