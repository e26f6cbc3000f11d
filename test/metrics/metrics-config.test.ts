import { describe, expect, it } from 'vitest';
import { loadConfig, redactConfig } from '../../shared/config/load-config.js';
import { METRICS_DEFAULTS, parseMetricsConfig } from '../../shared/metrics/metrics-config.js';

const parse = (env: Record<string, string>) => {
  const problems: string[] = [];
  return { config: parseMetricsConfig(env, problems), problems };
};

describe('METRICS_* settings', () => {
  it('defaults: no push, /metrics open, bounded labels', () => {
    expect(parse({})).toEqual({
      config: { statsdAddress: undefined, token: undefined, ...METRICS_DEFAULTS },
      problems: [],
    });
  });

  it.each(['statsd.monitoring.svc.cluster.local:9125', '10.0.0.7:9125', '[fd00::7]:9125'])(
    'accepts %s',
    (address) => {
      expect(parse({ METRICS_STATSD_ADDRESS: address })).toMatchObject({
        config: { statsdAddress: address },
        problems: [],
      });
    },
  );

  it.each(['http://statsd:9125', 'statsd', 'statsd:port', 'a b:1'])(
    'refuses METRICS_STATSD_ADDRESS=%s',
    (address) => {
      expect(parse({ METRICS_STATSD_ADDRESS: address }).problems).toEqual([
        `METRICS_STATSD_ADDRESS must be host:port (a statsd_exporter TCP listener), got "${address}"`,
      ]);
    },
  );

  it('refuses the Pushgateway, naming what replaces it', () => {
    expect(parse({ METRICS_PUSHGATEWAY_URL: 'http://pushgateway:9091' }).problems).toEqual([
      'METRICS_PUSHGATEWAY_URL is no longer supported: set METRICS_STATSD_ADDRESS to a statsd_exporter (README, Metrics)',
    ]);
  });

  it('reads the token and the limits', () => {
    expect(
      parse({
        METRICS_TOKEN: 's3cret',
        METRICS_MAX_OWNERS: '5',
        METRICS_MAX_REPOSITORIES: '9',
        METRICS_SEED_SECONDS: '0',
      }).config,
    ).toMatchObject({ token: 's3cret', maxOwners: 5, maxRepositories: 9, seedSeconds: 0 });
    expect(parse({ METRICS_MAX_OWNERS: '0' }).problems).toEqual([
      'METRICS_MAX_OWNERS must be a whole number from 1 to 10000, got "0"',
    ]);
  });

  it('the redacted configuration hides the token', () => {
    const config = loadConfig({ WEBHOOK_SECRET: 'w', GITHUB_TOKEN: 't', METRICS_TOKEN: 'metrics-s3cret' });
    expect(config.metrics.token).toBe('metrics-s3cret');
    const text = JSON.stringify(redactConfig(config));
    expect(text).not.toContain('metrics-s3cret');
    expect(text).toContain('"token":"***"');
  });
});
