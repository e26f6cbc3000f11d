import { isIP } from 'node:net';

/** One entry of NO_PROXY, parsed. */
export type NoProxyRule =
  /** `*`: no request is proxied. */
  | { readonly kind: 'all' }
  /** `10.0.0.0/8`, `fd00::/8`: any address in the block. */
  | { readonly kind: 'cidr'; readonly network: string; readonly prefix: number }
  /** `10.1.2.3`, `10.1.2.3:443`, `[fd00::1]:6443`: that address (on that port). */
  | { readonly kind: 'ip'; readonly address: string; readonly port: number | undefined }
  /**
   * `example.com` (that name and its subdomains), `.example.com` or `*.example.com` (subdomains only); with an
   * optional port. `suffix` always starts with a dot.
   */
  | {
      readonly kind: 'domain';
      readonly suffix: string;
      readonly matchesItself: boolean;
      readonly port: number | undefined;
    };

/** The HTTP proxies of the environment, read once at start. */
export interface ProxyEnv {
  /** For `http://` targets: `http_proxy`, else `HTTP_PROXY`. */
  readonly http: URL | undefined;
  /** For `https://` targets: `https_proxy`, else `HTTPS_PROXY`. Never falls back to the HTTP proxy. */
  readonly https: URL | undefined;
  /** `no_proxy`, else `NO_PROXY`: hosts reached directly. */
  readonly noProxy: readonly NoProxyRule[];
}

/** No proxy at all: what a config without the variables has. */
export const NO_PROXY_ENV: ProxyEnv = loggable({ http: undefined, https: undefined, noProxy: [] });

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads `HTTPS_PROXY`, `HTTP_PROXY` and `NO_PROXY` the way the tools around the function do, so one set of
 * variables means the same to it as to kubectl and the runner:
 * - the lower-case name wins over the upper-case one when both are set and not empty (Node's own
 *   `NODE_USE_ENV_PROXY`, undici's `EnvHttpProxyAgent`, curl); an empty value counts as unset (Go);
 * - an `https://` target uses only the HTTPS proxy and an `http://` target only the HTTP proxy (Go's
 *   `httpproxy`, curl; undici alone falls back from HTTPS to HTTP);
 * - a proxy given as `host:port` is `http://host:port` (Go); `socks5://` is not supported and refused;
 * - NO_PROXY as Go reads it (a superset of Node's): comma- or space-separated, `*` for all; an IP address, a CIDR
 *   block, or a domain name, which matches itself and its subdomains, while a leading `.` or `*.` matches
 *   subdomains only; each with an optional `:port`.
 * Loopback targets are never proxied (Go); see `proxyFor`. Problems go to `problems`, never echoing a value
 * (a proxy URL can hold a password).
 */
export function parseProxyEnv(env: Env, problems: string[]): ProxyEnv {
  const pick = (lower: string, upper: string): [string, string] | undefined => {
    for (const name of [lower, upper]) {
      const value = env[name]?.trim();
      if (value) return [name, value];
    }
    return undefined;
  };
  const proxy = (lower: string, upper: string): URL | undefined => {
    const found = pick(lower, upper);
    return found === undefined ? undefined : parseProxyUrl(found[1], found[0], problems);
  };
  const http = proxy('http_proxy', 'HTTP_PROXY');
  const https = proxy('https_proxy', 'HTTPS_PROXY');
  const noProxy = parseNoProxy(pick('no_proxy', 'NO_PROXY')?.[1] ?? '');
  return loggable({ http, https, noProxy: Object.freeze(noProxy) });
}

/**
 * Frozen, and serialised (by the logger's JSON.stringify) with the proxy passwords as `***`: the redaction travels
 * with the value, so no log line has to remember it. `toJSON` is not enumerable, so equality checks ignore it.
 */
function loggable(env: ProxyEnv): ProxyEnv {
  Object.defineProperty(env, 'toJSON', { value: () => redactProxyEnv(env) });
  return Object.freeze(env);
}

/**
 * A proxy URL from the environment or a kubeconfig's `proxy-url`: `http://` or `https://` (the connection to the
 * proxy itself is then TLS), credentials allowed; `host:port` alone means `http://`. `undefined` (and a problem
 * naming `what`) when it is none of these.
 */
export function parseProxyUrl(value: string, what: string, problems: string[]): URL | undefined {
  // `proxy:3128` would parse as a URL of scheme `proxy:`: without `scheme://` it is a host and port.
  const withScheme = /^[a-z][a-z0-9+.-]*:\/\//i.test(value) ? value : `http://${value}`;
  let url: URL | undefined;
  try {
    url = new URL(withScheme);
  } catch {
    url = undefined;
  }
  if (url === undefined || url.hostname === '') {
    problems.push(`${what} is not a proxy URL (expected http://host:port)`);
    return undefined;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    problems.push(
      `${what} must be an http:// or https:// proxy URL, got scheme ${url.protocol.slice(0, -1)} (SOCKS proxies are not supported)`,
    );
    return undefined;
  }
  return url;
}

function parseNoProxy(value: string): NoProxyRule[] {
  const rules: NoProxyRule[] = [];
  for (const raw of value.split(/[\s,]+/)) {
    const entry = raw.trim().toLowerCase();
    if (entry === '') continue;
    if (entry === '*') return [{ kind: 'all' }];
    const cidr = /^(.+)\/(\d{1,3})$/.exec(entry);
    if (cidr !== null) {
      const network = cidr[1] as string;
      const prefix = Number(cidr[2]);
      const family = isIP(network);
      if (family !== 0 && prefix <= (family === 4 ? 32 : 128)) rules.push({ kind: 'cidr', network, prefix });
      continue;
    }
    // host, host:port, [v6], [v6]:port, or a bare IPv6 address (its colons are not a port).
    let host = entry;
    let port: number | undefined;
    const bracketed = /^\[([^\]]+)\](?::(\d+))?$/.exec(entry);
    const withPort = /^([^:]+):(\d+)$/.exec(entry);
    if (bracketed !== null) {
      host = bracketed[1] as string;
      port = bracketed[2] === undefined ? undefined : Number(bracketed[2]);
    } else if (withPort !== null) {
      host = withPort[1] as string;
      port = Number(withPort[2]);
    }
    if (isIP(host) !== 0) {
      rules.push({ kind: 'ip', address: host, port });
      continue;
    }
    if (host.startsWith('*.')) host = host.slice(1);
    const matchesItself = !host.startsWith('.');
    const suffix = matchesItself ? `.${host}` : host;
    if (suffix.length > 1) rules.push({ kind: 'domain', suffix, matchesItself, port });
  }
  return rules;
}

/** The proxy settings as they may be logged: passwords in the proxy URLs replaced by `***`. */
export function redactProxyEnv(env: ProxyEnv): Record<string, unknown> {
  return { http: redactProxyUrl(env.http), https: redactProxyUrl(env.https), noProxy: env.noProxy };
}

/** A proxy URL as it may be logged: the password replaced by `***`. */
export function redactProxyUrl(url: URL | undefined): string | undefined {
  if (url === undefined) return undefined;
  if (url.password === '') return url.href;
  const copy = new URL(url.href);
  copy.password = '***';
  return copy.href;
}
