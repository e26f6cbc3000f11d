import { existsSync, readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { load } from 'js-yaml';
import { parseProxyUrl } from '../config/parse-proxy-env.js';
import { type ExecPlugin, execCredentialToken } from './exec-credential.js';
import { KubeConfigError, type KubeConnection } from './kube-connection.js';
import { asBearer, tokenFromFile } from './token-file.js';

type Entry = Record<string, unknown>;
/** A named kubeconfig entry with the folder of the file it came from (relative paths resolve against it). */
interface Named {
  readonly value: Entry;
  readonly dir: string;
}

/**
 * The connection of a kubeconfig's current context. `paths` are merged the way kubectl merges `KUBECONFIG`:
 * the first file to name a cluster, user, context or `current-context` wins; missing files are skipped.
 * Supported users: `token`, `tokenFile`, client certificates (files or `-data`), and `exec` credential plugins
 * that return tokens. A cluster's `proxy-url` (http or https) carries every call, as in client-go. `auth-provider`
 * and basic auth are refused with a clear error at start, as is a SOCKS `proxy-url`.
 */
export function kubeconfigConnection(paths: readonly string[]): KubeConnection {
  const clusters = new Map<string, Named>();
  const users = new Map<string, Named>();
  const contexts = new Map<string, Named>();
  let currentContext: string | undefined;
  const read = paths.filter((path) => path !== '' && existsSync(path));
  if (read.length === 0) throw new KubeConfigError(`no kubeconfig file found at ${paths.join(', ')}`);
  for (const path of read) {
    let document: unknown;
    try {
      document = load(readFileSync(path, 'utf8'));
    } catch (error) {
      throw new KubeConfigError(`${path} is not valid YAML: ${(error as Error).message.split('\n')[0]}`);
    }
    const config = asEntry(document ?? {}, path);
    const dir = dirname(resolve(path));
    collect(clusters, config.clusters, 'cluster', path, dir);
    collect(users, config.users, 'user', path, dir);
    collect(contexts, config.contexts, 'context', path, dir);
    if (
      currentContext === undefined &&
      typeof config['current-context'] === 'string' &&
      config['current-context']
    )
      currentContext = config['current-context'];
  }
  const where = read.join(':');
  if (currentContext === undefined) throw new KubeConfigError(`${where} sets no current-context`);
  const context = contexts.get(currentContext)?.value;
  if (context === undefined) throw new KubeConfigError(`${where}: no context named ${currentContext}`);
  const cluster = clusters.get(String(context.cluster));
  if (cluster === undefined)
    throw new KubeConfigError(`${where}: context ${currentContext} names no known cluster`);
  const user = context.user === undefined ? undefined : users.get(String(context.user));
  if (context.user !== undefined && user === undefined)
    throw new KubeConfigError(`${where}: context ${currentContext} names no known user`);

  const server = parseServer(cluster.value.server, where);
  const proxy = parseProxy(cluster.value['proxy-url'], where);
  const userEntry = user?.value ?? {};
  const userDir = user?.dir ?? cluster.dir;
  const userName = String(context.user);
  refuseUnsupported(userEntry, `${where}: user ${userName}`);
  const clusterName = String(context.cluster);
  const ca = pem(cluster.value, 'certificate-authority', cluster.dir, `${where}: cluster ${clusterName}`);
  const cert = pem(userEntry, 'client-certificate', userDir, `${where}: user ${userName}`);
  const key = pem(userEntry, 'client-key', userDir, `${where}: user ${userName}`);
  if ((cert === undefined) !== (key === undefined))
    throw new KubeConfigError(`${where}: user ${userName} has a client certificate without its key`);
  const servername = cluster.value['tls-server-name'];
  const namespace = context.namespace;
  return {
    server,
    tls: {
      rejectUnauthorized: cluster.value['insecure-skip-tls-verify'] !== true,
      ...(ca ? { ca } : {}),
      ...(cert && key ? { cert, key } : {}),
      ...(typeof servername === 'string' && servername ? { servername } : {}),
    },
    authorization: bearer(userEntry, userDir, where),
    source: where,
    ...(proxy ? { proxy } : {}),
    ...(typeof namespace === 'string' && namespace ? { namespace } : {}),
  };
}

function parseProxy(value: unknown, where: string): URL | undefined {
  if (value === undefined || value === null || value === '') return undefined;
  const problems: string[] = [];
  const proxy = typeof value === 'string' ? parseProxyUrl(value, 'proxy-url', problems) : undefined;
  if (proxy === undefined)
    throw new KubeConfigError(`${where}: ${problems[0] ?? 'proxy-url must be a string'}`);
  return proxy;
}

function asEntry(value: unknown, where: string): Entry {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    throw new KubeConfigError(`${where}: expected a mapping`);
  return value as Entry;
}

function collect(into: Map<string, Named>, list: unknown, field: string, path: string, dir: string): void {
  if (list === undefined || list === null) return;
  if (!Array.isArray(list)) throw new KubeConfigError(`${path}: ${field}s must be a list`);
  for (const item of list) {
    const entry = asEntry(item, path);
    if (typeof entry.name !== 'string') throw new KubeConfigError(`${path}: a ${field} has no name`);
    if (!into.has(entry.name)) into.set(entry.name, { value: asEntry(entry[field] ?? {}, path), dir });
  }
}

function parseServer(value: unknown, where: string): URL {
  let server: URL | undefined;
  try {
    server = typeof value === 'string' ? new URL(value) : undefined;
  } catch {
    server = undefined;
  }
  if (server === undefined || (server.protocol !== 'https:' && server.protocol !== 'http:'))
    throw new KubeConfigError(`${where}: the cluster's server must be an http(s) URL`);
  return server;
}

/**
 * What each retired `auth-provider` became: Kubernetes 1.26 removed the in-tree gcp and azure providers in favour
 * of these exec plugins (https://kubernetes.io/docs/reference/access-authn-authz/authentication/#client-go-credential-plugins).
 */
const AUTH_PROVIDER_ALTERNATIVES: Readonly<Record<string, string>> = {
  gcp: 'use the gke-gcloud-auth-plugin exec plugin (`gcloud components install gke-gcloud-auth-plugin`, then `gcloud container clusters get-credentials`)',
  azure: 'use the kubelogin exec plugin (`kubelogin convert-kubeconfig`)',
  oidc: 'use an OIDC exec plugin such as kubelogin (`kubectl oidc-login`), or a service-account token',
};

/** auth-provider and basic auth: refused at start, with what to use instead. */
function refuseUnsupported(user: Entry, who: string): void {
  const provider = user['auth-provider'];
  if (provider !== undefined) {
    const name =
      typeof provider === 'object' && provider !== null
        ? String((provider as Entry).name ?? '')
        : String(provider);
    throw new KubeConfigError(
      `${who} uses auth-provider ${name}, which is not supported: ${AUTH_PROVIDER_ALTERNATIVES[name] ?? 'use a token, a client certificate or an exec plugin'}`,
    );
  }
  if (user.username !== undefined || user.password !== undefined)
    throw new KubeConfigError(
      `${who} uses basic auth (username/password), which Kubernetes removed in 1.19: use a token, a client certificate or an exec plugin`,
    );
}

/**
 * `<field>-data` (base64 PEM) or `<field>` (a file path); `undefined` when neither is set. Both at once is refused,
 * as client-go's validation does ("certificate-authority-data and certificate-authority are both specified").
 */
function pem(entry: Entry, field: string, dir: string, who: string): Buffer | undefined {
  const data = entry[`${field}-data`];
  const file = entry[field];
  const hasData = typeof data === 'string' && data !== '';
  const hasFile = typeof file === 'string' && file !== '';
  if (hasData && hasFile)
    throw new KubeConfigError(`${who}: ${field}-data and ${field} are both set; keep one`);
  if (hasData) return Buffer.from(data, 'base64');
  if (!hasFile) return undefined;
  try {
    return readFileSync(resolve(dir, file));
  } catch {
    throw new KubeConfigError(`${who}: cannot read ${field} ${file}`);
  }
}

function bearer(
  user: Entry,
  dir: string,
  where: string,
): (options?: { fresh?: boolean }) => Promise<string | undefined> {
  if (user.exec !== undefined) {
    const exec = asEntry(user.exec, where);
    if (typeof exec.command !== 'string' || typeof exec.apiVersion !== 'string')
      throw new KubeConfigError(`${where}: an exec plugin needs command and apiVersion`);
    const token = execCredentialToken(exec as unknown as ExecPlugin, dir);
    return asBearer(token);
  }
  if (typeof user.tokenFile === 'string' && user.tokenFile) {
    const token = tokenFromFile(resolve(dir, user.tokenFile));
    return asBearer(token);
  }
  if (typeof user.token === 'string' && user.token) {
    const header = `Bearer ${user.token}`;
    return async () => header;
  }
  return async () => undefined;
}
