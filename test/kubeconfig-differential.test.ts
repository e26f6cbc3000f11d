/**
 * Our kubeconfig loader against `@kubernetes/client-node`'s `KubeConfig`, the reference it replaces at runtime for
 * speed: over a corpus of kubeconfig shapes, both must find the same server, CA, client certificate, TLS settings,
 * credential, namespace and proxy. Where client-node departs from kubectl (client-go), the case says so and
 * asserts both sides, so that a change on either side shows here.
 */
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import type { RequestOptions } from 'node:https';
import { join } from 'node:path';
import { KubeConfig } from '@kubernetes/client-node';
import { dump } from 'js-yaml';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { inClusterConnection } from '../shared/kubernetes/in-cluster-connection.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { tempDir } from './support/temp-dir.js';

/** What a client needs from a kubeconfig, as both loaders see it. */
interface View {
  readonly server: string;
  readonly ca: string | undefined;
  readonly cert: string | undefined;
  readonly key: string | undefined;
  readonly servername: string | undefined;
  readonly insecure: boolean;
  readonly authorization: string | undefined;
  readonly namespace: string | undefined;
  readonly proxy: string | undefined;
}

const text = (value: unknown) =>
  value === undefined || value === null ? undefined : Buffer.from(value as Buffer | string).toString();

async function ours(path: string): Promise<View> {
  const connection = kubeconfigConnection([path]);
  return {
    server: connection.server.href,
    ca: text(connection.tls.ca),
    cert: text(connection.tls.cert),
    key: text(connection.tls.key),
    servername: connection.tls.servername,
    insecure: !connection.tls.rejectUnauthorized,
    authorization: await connection.authorization(),
    namespace: connection.namespace,
    proxy: connection.proxy?.href,
  };
}

async function clientNode(path: string): Promise<View> {
  const kc = new KubeConfig();
  kc.loadFromFile(path);
  const cluster = kc.getCurrentCluster();
  if (cluster === null) throw new Error('client-node found no cluster');
  const options: RequestOptions & { servername?: string } = {};
  await kc.applyToHTTPSOptions(options);
  const headers = (options.headers ?? {}) as Record<string, string | undefined>;
  return {
    server: new URL(cluster.server).href,
    ca: text(options.ca),
    cert: text(options.cert),
    key: text(options.key),
    servername: options.servername,
    insecure: options.rejectUnauthorized === false,
    authorization: headers.Authorization,
    namespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
    proxy: cluster.proxyUrl ? new URL(cluster.proxyUrl).href : undefined,
  };
}

const b64 = (value: string) => Buffer.from(value).toString('base64');

/** A kubeconfig in a fresh folder, with the files it refers to (paths relative to that folder). */
function write(config: Record<string, unknown>, files: Record<string, string> = {}): string {
  const dir = tempDir('kubeconfig');
  for (const [name, content] of Object.entries(files)) {
    mkdirSync(join(dir, name, '..'), { recursive: true });
    writeFileSync(join(dir, name), content.replaceAll('$DIR', dir));
    if (name.endsWith('.sh')) chmodSync(join(dir, name), 0o755);
  }
  const path = join(dir, 'config');
  writeFileSync(path, dump({ apiVersion: 'v1', kind: 'Config', ...config }).replaceAll('$DIR', dir));
  return path;
}

/** One cluster, one user, one context. */
const single = (
  cluster: Record<string, unknown>,
  user: Record<string, unknown>,
  context: Record<string, unknown> = {},
) => ({
  clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', ...cluster } }],
  users: [{ name: 'u', user }],
  contexts: [{ name: 'ctx', context: { cluster: 'c', user: 'u', ...context } }],
  'current-context': 'ctx',
});

const plugin = `#!/bin/sh
echo '{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{"token":"exec-'"$1"'-'"$PLUGIN_ENV"'","expirationTimestamp":"2999-01-01T00:00:00Z"}}'
`;

const corpus: [string, () => string][] = [
  [
    'a token and the CA as data',
    () => write(single({ 'certificate-authority-data': b64('CA') }, { token: 't0k' })),
  ],
  [
    'the CA as a file relative to the kubeconfig',
    () =>
      write(single({ 'certificate-authority': 'pki/ca.crt' }, { token: 't' }), { 'pki/ca.crt': 'CA FILE' }),
  ],
  [
    'a client certificate and key as data',
    () => write(single({}, { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY') })),
  ],
  [
    'a client certificate and key as files',
    () =>
      write(single({}, { 'client-certificate': 'pki/me.crt', 'client-key': '$DIR/pki/me.key' }), {
        'pki/me.crt': 'CERT FILE',
        'pki/me.key': 'KEY FILE',
      }),
  ],
  [
    'a client certificate and a token together',
    () =>
      write(
        single({}, { 'client-certificate-data': b64('CERT'), 'client-key-data': b64('KEY'), token: 't' }),
      ),
  ],
  [
    'an exec plugin with args and env',
    () =>
      write(
        single(
          {},
          {
            exec: {
              apiVersion: 'client.authentication.k8s.io/v1',
              command: '$DIR/plugin.sh',
              args: ['arg1'],
              env: [{ name: 'PLUGIN_ENV', value: 'e1' }],
              interactiveMode: 'Never',
            },
          },
        ),
        { 'plugin.sh': plugin },
      ),
  ],
  ['tls-server-name', () => write(single({ 'tls-server-name': 'kubernetes.default' }, { token: 't' }))],
  ['insecure-skip-tls-verify', () => write(single({ 'insecure-skip-tls-verify': true }, { token: 't' }))],
  ['a context namespace', () => write(single({}, { token: 't' }, { namespace: 'github-runners' }))],
  ['a proxy-url', () => write(single({ 'proxy-url': 'http://proxy.corp:3128' }, { token: 't' }))],
  [
    'a server under a path (Rancher)',
    () => write(single({ server: 'https://rancher.example/k8s/clusters/c-m-x' }, { token: 't' })),
  ],
  ['an IPv6 server', () => write(single({ server: 'https://[fd00::1]:6443' }, { token: 't' }))],
  [
    'no user at all',
    () => write({ ...single({}, {}), users: [], contexts: [{ name: 'ctx', context: { cluster: 'c' } }] }),
  ],
  [
    'several contexts: the current one picks cluster, user and namespace',
    () =>
      write({
        clusters: [
          {
            name: 'dev',
            cluster: { server: 'https://dev.example', 'certificate-authority-data': b64('DEV CA') },
          },
          {
            name: 'prod',
            cluster: { server: 'https://prod.example', 'certificate-authority-data': b64('PROD CA') },
          },
        ],
        users: [
          { name: 'dev-user', user: { token: 'dev-token' } },
          { name: 'prod-user', user: { token: 'prod-token' } },
        ],
        contexts: [
          { name: 'dev', context: { cluster: 'dev', user: 'dev-user', namespace: 'dev-ns' } },
          { name: 'prod', context: { cluster: 'prod', user: 'prod-user', namespace: 'prod-ns' } },
          { name: 'mixed', context: { cluster: 'prod', user: 'dev-user' } },
        ],
        'current-context': 'prod',
      }),
  ],
];

describe('our kubeconfig loader agrees with client-node', () => {
  it.each(corpus)('%s', async (_name, make) => {
    const path = make();
    const reference = await clientNode(path);
    expect(reference.server).not.toBe('');
    expect(await ours(path)).toEqual(reference);
  });
});

describe('in a pod, our service-account connection agrees with client-node', () => {
  afterEach(() => {
    vi.unstubAllEnvs();
  });

  it.each([
    ['an IPv4 service address', '10.96.0.1'],
    ['an IPv6 service address', 'fd00:10:96::1'],
  ])('%s: server, CA, token and namespace', async (_name, host) => {
    const root = tempDir('pod');
    const dir = join(root, 'var/run/secrets/kubernetes.io/serviceaccount');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'token'), 'sa-token');
    writeFileSync(join(dir, 'ca.crt'), 'CLUSTER CA');
    writeFileSync(join(dir, 'namespace'), 'github-runners');
    vi.stubEnv('KUBERNETES_SERVICE_HOST', host);
    vi.stubEnv('KUBERNETES_SERVICE_PORT', '443');
    const kc = new KubeConfig();
    kc.loadFromCluster(root);
    const options: RequestOptions = {};
    await kc.applyToHTTPSOptions(options);
    const connection = inClusterConnection(
      { KUBERNETES_SERVICE_HOST: host, KUBERNETES_SERVICE_PORT: '443' },
      dir,
    );
    expect({
      server: connection.server.href,
      ca: text(connection.tls.ca),
      authorization: await connection.authorization(),
      namespace: connection.namespace,
    }).toEqual({
      server: new URL(kc.getCurrentCluster()?.server ?? '').href,
      ca: text(options.ca),
      authorization: (options.headers as Record<string, string>).Authorization,
      namespace: kc.getContextObject(kc.getCurrentContext())?.namespace,
    });
  });
});

describe('where client-node departs from kubectl, we follow kubectl', () => {
  it('tokenFile: kubectl reads it (and it wins over token); client-node reads a `token-file` kubectl does not know', async () => {
    // client-go: AuthInfo.TokenFile is `json:"tokenFile"`; its round tripper prefers the file's token to `token`.
    const path = write(single({}, { tokenFile: 'token', token: 'inline' }), { token: 'from-file\n' });
    expect((await ours(path)).authorization).toBe('Bearer from-file');
    expect((await clientNode(path)).authorization).toBe('Bearer inline');
  });

  it('both certificate-authority and -data: kubectl refuses the config; client-node silently takes the file', async () => {
    const path = write(
      single({ 'certificate-authority': 'ca.crt', 'certificate-authority-data': b64('DATA') }, {}),
      {
        'ca.crt': 'FILE',
      },
    );
    expect((await clientNode(path)).ca).toBe('FILE');
    expect(() => kubeconfigConnection([path])).toThrow(
      /cluster c: certificate-authority-data and certificate-authority are both set; keep one/,
    );
  });

  it('both client-certificate and -data: kubectl refuses the config; client-node silently takes the file', async () => {
    const user = {
      'client-certificate': 'me.crt',
      'client-certificate-data': b64('DATA'),
      'client-key-data': b64('K'),
    };
    const path = write(single({}, user), { 'me.crt': 'FILE' });
    expect((await clientNode(path)).cert).toBe('FILE');
    expect(() => kubeconfigConnection([path])).toThrow(
      /user u: client-certificate-data and client-certificate are both set/,
    );
  });

  it('a KUBECONFIG list: kubectl takes the first current-context and the first of each name; client-node throws', () => {
    const first = write({
      clusters: [{ name: 'c', cluster: { server: 'https://first.example' } }],
      'current-context': 'a',
    });
    const second = write({
      ...single({ server: 'https://second.example' }, { token: 't' }),
      contexts: [{ name: 'a', context: { cluster: 'c', user: 'u', namespace: 'from-second' } }],
      'current-context': 'b',
    });
    const connection = kubeconfigConnection([first, second]);
    expect(connection.server.host).toBe('first.example');
    expect(connection.namespace).toBe('from-second');
    // What client-node's loadFromDefault does with a KUBECONFIG list: load the first, merge each next one.
    const kc = new KubeConfig();
    kc.loadFromFile(first);
    const next = new KubeConfig();
    next.loadFromFile(second);
    expect(() => kc.mergeConfig(next)).toThrow(/Duplicate cluster: c/);
  });
});

describe('what we refuse, we refuse at start with the alternative named', () => {
  it.each([
    ['gcp', /auth-provider gcp.*gke-gcloud-auth-plugin/],
    ['azure', /auth-provider azure.*kubelogin/],
    ['oidc', /auth-provider oidc.*exec plugin.*kubelogin/],
    ['something-else', /auth-provider something-else.*token, a client certificate or an exec plugin/],
  ])('auth-provider %s', (provider, message) => {
    const path = write(single({}, { 'auth-provider': { name: provider, config: {} } }));
    // client-node takes it (and runs its own provider code on each call); we do not.
    const kc = new KubeConfig();
    kc.loadFromFile(path);
    expect(kc.getCurrentUser()?.authProvider?.name).toBe(provider);
    expect(() => kubeconfigConnection([path])).toThrow(message);
  });

  it('basic auth, which Kubernetes removed in 1.19', () => {
    const path = write(single({}, { username: 'admin', password: 'hunter2' }));
    let message = '';
    try {
      kubeconfigConnection([path]);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toMatch(/basic auth.*use a token, a client certificate or an exec plugin/);
    expect(message).not.toContain('hunter2');
  });

  it('a SOCKS proxy-url, which client-go and client-node take but we do not', async () => {
    const path = write(single({ 'proxy-url': 'socks5://proxy.corp:1080' }, { token: 't' }));
    expect((await clientNode(path)).proxy).toBe('socks5://proxy.corp:1080');
    expect(() => kubeconfigConnection([path])).toThrow(
      /proxy-url must be an http:\/\/ or https:\/\/ proxy URL/,
    );
  });
});
