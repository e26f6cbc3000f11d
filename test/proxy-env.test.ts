import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig, redactConfig } from '../shared/config/load-config.js';
import { parseProxyEnv } from '../shared/config/parse-proxy-env.js';
import { proxyFor } from '../shared/http/proxy-for.js';

const parse = (env: Record<string, string>) => {
  const problems: string[] = [];
  const proxy = parseProxyEnv(env, problems);
  return { proxy, problems };
};

/** The proxy host a request to `url` goes through under `env`, or `direct`. */
const route = (env: Record<string, string>, url: string) =>
  proxyFor(parse(env).proxy, new URL(url))?.host ?? 'direct';

describe('parseProxyEnv: which variable', () => {
  it.each([
    ['the upper-case name alone', { HTTPS_PROXY: 'upper:1' }, 'upper:1'],
    ['the lower-case name alone', { https_proxy: 'lower:1' }, 'lower:1'],
    [
      'lower-case over upper-case (Node, undici, curl)',
      { https_proxy: 'lower:1', HTTPS_PROXY: 'upper:1' },
      'lower:1',
    ],
    ['an empty lower-case value counts as unset', { https_proxy: ' ', HTTPS_PROXY: 'upper:1' }, 'upper:1'],
    ['nothing set', {}, 'direct'],
  ])('%s', (_name, env, expected) => {
    expect(route(env, 'https://api.github.com/')).toBe(expected);
  });

  it('sends https targets to the HTTPS proxy only and http targets to the HTTP proxy only (Go, curl)', () => {
    const onlyHttp = { HTTP_PROXY: 'plain:3128' };
    expect(route(onlyHttp, 'https://api.github.com/')).toBe('direct');
    expect(route(onlyHttp, 'http://pushgateway:9091/')).toBe('plain:3128');
    const onlyHttps = { HTTPS_PROXY: 'secure:3128' };
    expect(route(onlyHttps, 'http://pushgateway:9091/')).toBe('direct');
  });

  it('reads host:port as http://host:port, keeps an https:// proxy, and refuses SOCKS without echoing the value', () => {
    expect(parse({ HTTPS_PROXY: '10.0.0.1:3128' }).proxy.https?.href).toBe('http://10.0.0.1:3128/');
    expect(parse({ HTTPS_PROXY: 'proxy.corp:3128' }).proxy.https?.href).toBe('http://proxy.corp:3128/');
    expect(parse({ HTTPS_PROXY: 'https://u:p@proxy.corp' }).proxy.https?.href).toBe(
      'https://u:p@proxy.corp/',
    );
    const socks = parse({ https_proxy: 'socks5://user:hunter2@proxy:1080', HTTP_PROXY: 'http://:' });
    expect(socks.problems).toEqual([
      'HTTP_PROXY is not a proxy URL (expected http://host:port)',
      'https_proxy must be an http:// or https:// proxy URL, got scheme socks5 (SOCKS proxies are not supported)',
    ]);
    expect(socks.problems.join()).not.toContain('hunter2');
  });
});

describe('proxyFor: NO_PROXY as Go reads it', () => {
  const proxy = { HTTPS_PROXY: 'proxy:3128', HTTP_PROXY: 'proxy:3128' };
  it.each([
    // domain: itself and subdomains
    ['github.com', 'https://github.com/', 'direct'],
    ['github.com', 'https://api.github.com/', 'direct'],
    ['github.com', 'https://notgithub.com/', 'proxy:3128'],
    // leading dot or *.: subdomains only
    ['.github.com', 'https://api.github.com/', 'direct'],
    ['.github.com', 'https://github.com/', 'proxy:3128'],
    ['*.github.com', 'https://api.github.com/', 'direct'],
    ['*.github.com', 'https://github.com/', 'proxy:3128'],
    // case, spaces and commas
    [' GitHub.com ,example.org', 'https://API.github.com/', 'direct'],
    ['example.org github.com', 'https://api.github.com/', 'direct'],
    // ports: the default port of the scheme counts
    ['github.com:443', 'https://api.github.com/', 'direct'],
    ['github.com:8443', 'https://api.github.com/', 'proxy:3128'],
    ['pushgateway:9091', 'http://pushgateway:9091/', 'direct'],
    // IP addresses and CIDR blocks; a name never matches an IP rule nor an IP a name rule
    ['10.96.0.1', 'https://10.96.0.1:443/', 'direct'],
    ['10.96.0.1:6443', 'https://10.96.0.1:443/', 'proxy:3128'],
    ['10.96.0.0/12', 'https://10.96.0.1/', 'direct'],
    ['10.96.0.0/12', 'https://10.112.0.1/', 'proxy:3128'],
    ['10.96.0.0/12', 'https://kubernetes.default.svc/', 'proxy:3128'],
    ['fd00::/8', 'https://[fd00::1]:6443/', 'direct'],
    ['[fd00::1]:6443', 'https://[fd00:0::1]:6443/', 'direct'],
    ['fd00::1', 'https://[fd00::2]/', 'proxy:3128'],
    ['.svc,.cluster.local', 'https://kubernetes.default.svc/', 'direct'],
    // everything
    ['*', 'https://api.github.com/', 'direct'],
    // empty
    ['', 'https://api.github.com/', 'proxy:3128'],
  ])('NO_PROXY=%j: %s goes %s', (noProxy, url, expected) => {
    expect(route({ ...proxy, NO_PROXY: noProxy }, url)).toBe(expected);
  });

  it('never proxies localhost or loopback addresses, whatever NO_PROXY says', () => {
    for (const url of [
      'http://localhost:9091/',
      'https://127.0.0.1/',
      'https://127.1.2.3/',
      'https://[::1]/',
    ]) {
      expect(route(proxy, url), url).toBe('direct');
    }
  });

  it('no_proxy wins over NO_PROXY', () => {
    expect(route({ ...proxy, no_proxy: 'example.org', NO_PROXY: 'github.com' }, 'https://github.com/')).toBe(
      'proxy:3128',
    );
  });
});

describe('the configuration', () => {
  const minimal = { WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't' };

  it('carries the proxies, and logs them without their passwords', () => {
    const config = loadConfig({
      ...minimal,
      HTTPS_PROXY: 'http://alice:s3cret@proxy.corp:3128',
      NO_PROXY: '.svc',
    });
    expect(config.proxy.https?.host).toBe('proxy.corp:3128');
    for (const logged of [JSON.stringify(redactConfig(config)), JSON.stringify(config)]) {
      expect(logged).toContain('http://alice:***@proxy.corp:3128/');
      expect(logged).not.toContain('s3cret');
    }
  });

  it('refuses a proxy it cannot use at start, with the other problems', () => {
    expect(() => loadConfig({ ...minimal, HTTP_PROXY: 'socks5://proxy:1080', PORT: 'x' })).toThrow(
      ConfigError,
    );
    try {
      loadConfig({ ...minimal, HTTP_PROXY: 'socks5://proxy:1080', PORT: 'x' });
    } catch (error) {
      expect((error as ConfigError).problems).toHaveLength(2);
    }
  });
});
