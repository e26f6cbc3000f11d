import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { dump } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { execCredentialToken } from '../shared/kubernetes/exec-credential.js';
import { inClusterConnection } from '../shared/kubernetes/in-cluster-connection.js';
import { KubeConfigError } from '../shared/kubernetes/kube-connection.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { loadKubeConnection } from '../shared/kubernetes/load-kube-connection.js';
import { tokenFromFile } from '../shared/kubernetes/token-file.js';
import { tempDir } from './support/temp-dir.js';

const fresh = () => tempDir('kube');

interface Config {
  clusters?: { name: string; cluster: Record<string, unknown> }[];
  users?: { name: string; user: Record<string, unknown> }[];
  contexts?: { name: string; context: Record<string, unknown> }[];
  'current-context'?: string;
}

function kubeconfig(dir: string, config: Config, file = 'config'): string {
  const path = join(dir, file);
  writeFileSync(path, dump({ apiVersion: 'v1', kind: 'Config', ...config }));
  return path;
}

/** One cluster, one user, one context named `c`. */
const single = (cluster: Record<string, unknown>, user: Record<string, unknown>): Config => ({
  clusters: [{ name: 'c', cluster: { server: 'https://api.example:6443', ...cluster } }],
  users: [{ name: 'c', user }],
  contexts: [{ name: 'c', context: { cluster: 'c', user: 'c' } }],
  'current-context': 'c',
});

describe('kubeconfigConnection', () => {
  it('takes server, CA, client certificate and token from the current context, paths relative to the file', async () => {
    const dir = fresh();
    mkdirSync(join(dir, 'pki'));
    writeFileSync(join(dir, 'pki', 'ca.crt'), 'CA PEM');
    writeFileSync(join(dir, 'pki', 'admin.crt'), 'CERT PEM');
    const path = kubeconfig(
      dir,
      single(
        { 'certificate-authority': 'pki/ca.crt', 'tls-server-name': 'kubernetes' },
        {
          'client-certificate': 'pki/admin.crt',
          'client-key-data': Buffer.from('KEY PEM').toString('base64'),
          token: 'abc',
        },
      ),
    );
    const connection = kubeconfigConnection([path]);
    expect(connection.server.href).toBe('https://api.example:6443/');
    expect(connection.tls.ca?.toString()).toBe('CA PEM');
    expect(connection.tls.cert?.toString()).toBe('CERT PEM');
    expect(connection.tls.key?.toString()).toBe('KEY PEM');
    expect(connection.tls.servername).toBe('kubernetes');
    expect(connection.tls.rejectUnauthorized).toBe(true);
    expect(await connection.authorization()).toBe('Bearer abc');
    expect(connection.source).toBe(path);
  });

  it('skips TLS verification only when the cluster says insecure-skip-tls-verify', async () => {
    const dir = fresh();
    const connection = kubeconfigConnection([
      kubeconfig(dir, single({ 'insecure-skip-tls-verify': true }, {})),
    ]);
    expect(connection.tls.rejectUnauthorized).toBe(false);
    expect(await connection.authorization()).toBeUndefined();
  });

  it('merges a KUBECONFIG list the way kubectl does: the first file to name something wins', () => {
    const dir = fresh();
    const first = kubeconfig(
      dir,
      {
        clusters: [{ name: 'shared', cluster: { server: 'https://first.example' } }],
        'current-context': 'b',
      },
      'first',
    );
    const second = kubeconfig(
      dir,
      {
        clusters: [
          { name: 'shared', cluster: { server: 'https://second.example' } },
          { name: 'only-second', cluster: { server: 'https://other.example' } },
        ],
        users: [{ name: 'u', user: { token: 't' } }],
        contexts: [
          { name: 'a', context: { cluster: 'only-second', user: 'u' } },
          { name: 'b', context: { cluster: 'shared', user: 'u' } },
        ],
        'current-context': 'a',
      },
      'second',
    );
    const connection = kubeconfigConnection([first, join(dir, 'missing'), second]);
    expect(connection.server.host).toBe('first.example');
  });

  it.each([
    [
      'auth-provider',
      single({}, { 'auth-provider': { name: 'gcp' } }),
      /uses auth-provider gcp, which is not supported: use the gke-gcloud-auth-plugin/,
    ],
    ['basic auth', single({}, { username: 'u', password: 'p' }), /uses basic auth/],
    [
      'a SOCKS proxy',
      single({ 'proxy-url': 'socks5://proxy:1080' }, {}),
      /proxy-url must be an http:\/\/ or https:\/\/ proxy URL, got scheme socks5/,
    ],
    ['a proxy-url that is no URL', single({ 'proxy-url': 'http://' }, {}), /proxy-url is not a proxy URL/],
    ['a certificate without its key', single({}, { 'client-certificate-data': 'Zm9v' }), /without its key/],
    ['a server that is not http(s)', single({ server: 'ftp://x' }, {}), /must be an http\(s\) URL/],
    ['no current-context', { ...single({}, {}), 'current-context': undefined }, /sets no current-context/],
    ['a context naming no cluster', { ...single({}, {}), clusters: [] }, /names no known cluster/],
  ])('refuses %s at start with a clear error', (_name, config, message) => {
    expect(() => kubeconfigConnection([kubeconfig(fresh(), config as Config)])).toThrow(message);
  });

  it('names an unreadable certificate file, and never echoes a token', () => {
    const dir = fresh();
    const path = kubeconfig(dir, single({ 'certificate-authority': 'nope.crt' }, { token: 'sekret-token' }));
    let error: unknown;
    try {
      kubeconfigConnection([path]);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(KubeConfigError);
    expect((error as Error).message).toContain('cannot read certificate-authority nope.crt');
    expect((error as Error).message).not.toContain('sekret-token');
  });

  it('rejects a file that is not YAML', () => {
    const dir = fresh();
    writeFileSync(join(dir, 'config'), 'clusters: [unclosed');
    expect(() => kubeconfigConnection([join(dir, 'config')])).toThrow(/is not valid YAML/);
  });
});

describe('tokens that change under us', () => {
  it('re-reads a token file once its refresh interval has passed', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'token'), 'first\n');
    const cached = tokenFromFile(join(dir, 'token'), 60_000);
    const always = tokenFromFile(join(dir, 'token'), 0);
    expect(await cached()).toBe('first');
    expect(await always()).toBe('first');
    writeFileSync(join(dir, 'token'), 'rotated');
    expect(await cached()).toBe('first');
    expect(await always()).toBe('rotated');
    // Asked for a fresh one (the API server refused the cached token), it reads the file at once.
    expect(await cached(true)).toBe('rotated');
  });

  it('runs an exec plugin once per token lifetime, sharing one run between concurrent callers', async () => {
    const dir = fresh();
    const plugin = join(dir, 'plugin.mjs');
    // Counts its runs, checks it got KUBERNETES_EXEC_INFO and its env, and prints an ExecCredential.
    writeFileSync(
      plugin,
      `#!/usr/bin/env node
import { appendFileSync } from 'node:fs';
appendFileSync(${JSON.stringify(join(dir, 'runs'))}, 'x');
const info = JSON.parse(process.env.KUBERNETES_EXEC_INFO);
const expires = new Date(Date.now() + Number(process.env.LIFETIME_MS)).toISOString();
console.log(JSON.stringify({ apiVersion: info.apiVersion, kind: 'ExecCredential',
  status: { token: 'exec-' + info.spec.interactive + '-' + process.argv[2], expirationTimestamp: expires } }));
`,
    );
    chmodSync(plugin, 0o755);
    const runs = () => readFileSync(join(dir, 'runs'), 'utf8').length;
    const longLived = execCredentialToken(
      {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: './plugin.mjs',
        args: ['arg'],
        env: [{ name: 'LIFETIME_MS', value: '3600000' }],
      },
      dir,
    );
    const tokens = await Promise.all([longLived(), longLived(), longLived()]);
    expect(tokens).toEqual(['exec-false-arg', 'exec-false-arg', 'exec-false-arg']);
    expect(await longLived()).toBe('exec-false-arg');
    expect(runs()).toBe(1);
    // A fresh token is fetched whatever the expiry says.
    await longLived(true);
    expect(runs()).toBe(2);
    // A token that expires within the safety margin is fetched again on every use.
    const shortLived = execCredentialToken(
      {
        apiVersion: 'client.authentication.k8s.io/v1',
        command: plugin,
        env: [{ name: 'LIFETIME_MS', value: '1000' }],
      },
      dir,
    );
    await shortLived();
    await shortLived();
    expect(runs()).toBe(4);
  });

  it('reports a failing plugin by its exit, not by what it printed, and refuses certificate plugins', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'fails'), '#!/bin/sh\necho "secret-in-stderr" >&2\nexit 3\n');
    writeFileSync(
      join(dir, 'cert'),
      `#!/bin/sh\necho '{"status":{"clientCertificateData":"x","clientKeyData":"y"}}'\n`,
    );
    chmodSync(join(dir, 'fails'), 0o755);
    chmodSync(join(dir, 'cert'), 0o755);
    const failing = execCredentialToken({ apiVersion: 'v1', command: join(dir, 'fails') }, dir);
    await expect(failing()).rejects.toThrow(/failed \(3\)/);
    await expect(failing()).rejects.not.toThrow(/secret-in-stderr/);
    const cert = execCredentialToken({ apiVersion: 'v1', command: join(dir, 'cert') }, dir);
    await expect(cert()).rejects.toThrow(/returns a client certificate; only token plugins/);
  });
});

describe('loadKubeConnection', () => {
  it('uses KUBECONFIG first, then ~/.kube/config, then the service account, and refuses to guess', async () => {
    const home = fresh();
    const explicit = kubeconfig(fresh(), single({ server: 'https://explicit.example' }, {}));
    expect(loadKubeConnection({ KUBECONFIG: explicit, HOME: home }).server.host).toBe('explicit.example');
    expect(() => loadKubeConnection({ HOME: home })).toThrow(/no Kubernetes credentials found/);
    mkdirSync(join(home, '.kube'));
    kubeconfig(join(home, '.kube'), single({ server: 'https://home.example' }, {}));
    expect(loadKubeConnection({ HOME: home, KUBERNETES_SERVICE_HOST: '10.0.0.1' }).server.host).toBe(
      'home.example',
    );
  });

  it('in a pod: the service host and port, the CA, and the token as re-read from its file', async () => {
    const dir = fresh();
    writeFileSync(join(dir, 'token'), 'sa-token\n');
    writeFileSync(join(dir, 'ca.crt'), 'CLUSTER CA');
    const connection = inClusterConnection(
      { KUBERNETES_SERVICE_HOST: 'fd00::1', KUBERNETES_SERVICE_PORT: '6443' },
      dir,
    );
    expect(connection.server.href).toBe('https://[fd00::1]:6443/');
    expect(connection.tls.ca?.toString()).toBe('CLUSTER CA');
    expect(await connection.authorization()).toBe('Bearer sa-token');
    expect(() => inClusterConnection({ KUBERNETES_SERVICE_HOST: '10.0.0.1' }, fresh())).toThrow(
      /no service-account token .* automountServiceAccountToken/,
    );
  });
});
