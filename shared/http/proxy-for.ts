import { BlockList, isIP } from 'node:net';
import type { NoProxyRule, ProxyEnv } from '../config/parse-proxy-env.js';

const DEFAULT_PORTS: Readonly<Record<string, number>> = { 'http:': 80, 'https:': 443 };

/**
 * The proxy a request to `url` goes through, or `undefined` to connect directly: the HTTPS proxy for `https:`,
 * the HTTP proxy for `http:`, none when NO_PROXY matches the host (see `parseProxyEnv` for the rules) or the
 * host is `localhost` or a loopback address (Go's `httpproxy` never proxies those: a proxy cannot reach them).
 */
export function proxyFor(env: ProxyEnv, url: URL): URL | undefined {
  const proxy = url.protocol === 'https:' ? env.https : url.protocol === 'http:' ? env.http : undefined;
  if (proxy === undefined) return undefined;
  const host = url.hostname.replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
  if (host === 'localhost' || isLoopback(host)) return undefined;
  const port = url.port === '' ? (DEFAULT_PORTS[url.protocol] ?? 0) : Number(url.port);
  return env.noProxy.some((rule) => bypasses(rule, host, port)) ? undefined : proxy;
}

function bypasses(rule: NoProxyRule, host: string, port: number): boolean {
  const family = isIP(host);
  switch (rule.kind) {
    case 'all':
      return true;
    case 'cidr': {
      const ruleFamily = isIP(rule.network) === 4 ? 'ipv4' : 'ipv6';
      if (family === 0 || (family === 4) !== (ruleFamily === 'ipv4')) return false;
      const block = new BlockList();
      block.addSubnet(rule.network, rule.prefix, ruleFamily);
      return block.check(host, ruleFamily);
    }
    case 'ip': {
      if (family === 0 || family !== isIP(rule.address)) return false;
      if (rule.port !== undefined && rule.port !== port) return false;
      // BlockList compares addresses, not spellings: `fd00::1` is `fd00:0::1`.
      const block = new BlockList();
      block.addAddress(rule.address, family === 4 ? 'ipv4' : 'ipv6');
      return block.check(host, family === 4 ? 'ipv4' : 'ipv6');
    }
    case 'domain':
      if (family !== 0) return false;
      if (rule.port !== undefined && rule.port !== port) return false;
      return host.endsWith(rule.suffix) || (rule.matchesItself && host === rule.suffix.slice(1));
  }
}

function isLoopback(host: string): boolean {
  const family = isIP(host);
  if (family === 4) return host.startsWith('127.');
  if (family === 6) {
    const block = new BlockList();
    block.addAddress('::1', 'ipv6');
    // ::ffff:127.0.0.1 is loopback too.
    block.addSubnet('::ffff:127.0.0.0', 104, 'ipv6');
    return block.check(host, 'ipv6');
  }
  return false;
}
