import { describe, expect, it } from 'vitest';
import {
  ConfigError,
  DEFAULT_RUNNER_IMAGES,
  loadConfig,
  redactConfig,
} from '../shared/config/load-config.js';

const minimal = { WEBHOOK_SECRET: 'hook-secret', GITHUB_TOKEN: 'github_pat_123' };

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('applies the documented defaults', () => {
    const config = loadConfig(minimal);
    expect(config).toEqual({
      webhookSecrets: { shared: ['hook-secret'], owners: new Map() },
      maxBodyBytes: 256 * 1024,
      githubAuth: { kind: 'tokens', tokens: new Map(), fallbackToken: 'github_pat_123' },
      runnerScope: 'repo',
      policy: { allowedOwners: [], allowedRepositories: [], publicRepositories: 'allow' },
      githubApiUrl: 'https://api.github.com',
      runnerGroupId: 1,
      runnerMode: 'dind-rootless',
      runnerImage: 'ghcr.io/actions/actions-runner:2.338.0',
      dindImage: 'docker:29.9.0-dind-rootless',
      namespace: 'default',
      labelMatchers: [],
      profiles: [
        {
          name: 'default',
          matchers: [],
          mode: 'dind-rootless',
          image: 'ghcr.io/actions/actions-runner:2.338.0',
          followsReleases: true,
          dindImage: 'docker:29.9.0-dind-rootless',
          resources: {
            requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '1Gi' },
            limits: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '20Gi' },
          },
          activeDeadlineSeconds: 21600,
          env: [],
          volumes: [],
        },
      ],
      maxRunners: undefined,
      port: 8080,
      jobTtlSeconds: 300,
      logLevel: 'info',
      reconcileToken: undefined,
      runnerStartTimeoutSeconds: 900,
      reconcileBudgetSeconds: 7,
      reconcileRunSeconds: 200,
      claimTtlSeconds: 30,
      metrics: {
        statsdAddress: undefined,
        seedSeconds: 30,
        token: undefined,
        maxOwners: 50,
        maxRepositories: 200,
        activeCacheMs: 15_000,
      },
      reconcileHooks: [],
      proxy: { http: undefined, https: undefined, noProxy: [] },
      // GitHub's documented limits, for the whole fleet: every process takes from one ledger per credential.
      githubLimits: { concurrency: 100, pointsPerMinute: 900, contentPerMinute: undefined, windowMs: 60_000 },
    });
    expect(Object.isFrozen(config)).toBe(true);
  });

  it('reads every setting', () => {
    const config = loadConfig({
      ...minimal,
      GITHUB_API_URL: 'https://ghe.example.com/api/v3/',
      RUNNER_GROUP_ID: '7',
      RUNNER_MODE: 'dind',
      RUNNER_IMAGE: 'registry.example.com/runner:2',
      DIND_IMAGE: 'docker:27-dind',
      NAMESPACE: 'github-runners',
      LABEL_MATCHERS: 'linux+x64;arm64',
      PORT: '9000',
      JOB_TTL_SECONDS: '30',
      LOG_LEVEL: 'debug',
    });
    expect(config).toMatchObject({
      githubApiUrl: 'https://ghe.example.com/api/v3',
      runnerGroupId: 7,
      runnerMode: 'dind',
      runnerImage: 'registry.example.com/runner:2',
      dindImage: 'docker:27-dind',
      namespace: 'github-runners',
      labelMatchers: [['linux', 'x64'], ['arm64']],
      port: 9000,
      jobTtlSeconds: 30,
      logLevel: 'debug',
    });
  });

  it.each(Object.entries(DEFAULT_RUNNER_IMAGES))('defaults the %s image', (mode, image) => {
    expect(loadConfig({ ...minimal, RUNNER_MODE: mode }).runnerImage).toBe(image);
  });

  it('reports every problem at once', () => {
    const problems = problemsOf({
      RUNNER_MODE: 'rootful',
      PORT: '80a',
      RUNNER_GROUP_ID: '0',
      NAMESPACE: 'Not_A_Namespace',
      GITHUB_API_URL: 'ftp://example.com',
      LABEL_MATCHERS: 'linux,,x64',
      JOB_TTL_SECONDS: '-1',
      LOG_LEVEL: 'loud',
    });
    expect(problems).toEqual([
      'WEBHOOK_SECRET is required (the secret set on the GitHub webhook), unless WEBHOOK_SECRETS is set',
      'GITHUB_TOKEN is required (a fine-grained PAT with Actions and Administration read/write), unless GITHUB_TOKENS or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY are set',
      'RUNNER_MODE must be one of standard, userns, dind, dind-rootless, got "rootful"',
      'GITHUB_API_URL must be an http(s) URL, got "ftp://example.com"',
      'NAMESPACE must be a valid Kubernetes namespace name, got "Not_A_Namespace"',
      'LABEL_MATCHERS "linux,,x64" has an empty label (check for doubled or trailing , ; +)',
      'RUNNER_GROUP_ID must be a whole number from 1 to 9007199254740991, got "0"',
      'PORT must be a whole number from 0 to 65535, got "80a"',
      'JOB_TTL_SECONDS must be a whole number from 0 to 604800, got "-1"',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  it('takes PORT=0 (any free port) and refuses a port past 65535', () => {
    expect(loadConfig({ ...minimal, PORT: '0' }).port).toBe(0);
    expect(problemsOf({ ...minimal, PORT: '65536' })).toEqual([
      'PORT must be a whole number from 0 to 65535, got "65536"',
    ]);
  });

  it('treats blank values as unset', () => {
    expect(problemsOf({ WEBHOOK_SECRET: '  ', GITHUB_TOKEN: 'x' })).toEqual([
      'WEBHOOK_SECRET is required (the secret set on the GitHub webhook), unless WEBHOOK_SECRETS is set',
    ]);
  });

  it('reads per-owner tokens as lines, commas or JSON, owners case-insensitively', () => {
    for (const GITHUB_TOKENS of [
      'Octo-Org=tok_a\nhubot=tok_b',
      'octo-org=tok_a, hubot=tok_b',
      '{"octo-org":"tok_a","Hubot":"tok_b"}',
    ]) {
      const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKENS });
      expect(config.githubAuth).toEqual({
        kind: 'tokens',
        tokens: new Map([
          ['octo-org', 'tok_a'],
          ['hubot', 'tok_b'],
        ]),
        fallbackToken: undefined,
      });
    }
  });

  it('names a malformed GITHUB_TOKENS entry without echoing any token', () => {
    const problems = problemsOf({ WEBHOOK_SECRET: 's', GITHUB_TOKENS: 'octo-org:tok_secret_value' });
    expect(problems.join()).toContain('GITHUB_TOKENS entries must be owner=token');
    expect(problems.join()).not.toContain('tok_secret_value');
  });

  it('names only what is wrong with GITHUB_TOKENS, not "GITHUB_TOKEN is required" as well', () => {
    expect(problemsOf({ WEBHOOK_SECRET: 's', GITHUB_TOKENS: 'garbage' })).toEqual([
      'GITHUB_TOKENS entries must be owner=token; entry 1 is not',
    ]);
    expect(problemsOf({ WEBHOOK_SECRET: 's', GITHUB_TOKENS: '{"octo-org": ' })).toEqual([
      'GITHUB_TOKENS looks like JSON but does not parse',
    ]);
    // Set, but nothing in it: still a problem, named as such.
    expect(problemsOf({ WEBHOOK_SECRET: 's', GITHUB_TOKENS: '# no owner yet' })).toEqual([
      'GITHUB_TOKENS holds no owner=token entry; set GITHUB_TOKEN or add an entry',
    ]);
  });

  it('takes a GitHub App, with the key pasted on one line', () => {
    const key = '-----BEGIN RSA PRIVATE KEY-----\\nMIIB\\n-----END RSA PRIVATE KEY-----';
    const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_APP_ID: '12345', GITHUB_APP_PRIVATE_KEY: key });
    expect(config.githubAuth).toEqual({
      kind: 'app',
      appId: 12345,
      privateKey: '-----BEGIN RSA PRIVATE KEY-----\nMIIB\n-----END RSA PRIVATE KEY-----',
    });
    expect(problemsOf({ WEBHOOK_SECRET: 's', GITHUB_APP_ID: 'abc' })).toEqual([
      'GITHUB_APP_ID must be the numeric App ID',
      'GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE) is required with GITHUB_APP_ID',
    ]);
  });

  it('reads the scope and the repository policy', () => {
    const config = loadConfig({
      ...minimal,
      RUNNER_SCOPE: 'org',
      ALLOWED_OWNERS: 'octo-org, hubot',
      ALLOWED_REPOSITORIES: 'octo-org/*',
      PUBLIC_REPOSITORIES: 'deny',
    });
    expect(config.runnerScope).toBe('org');
    expect(config.policy).toEqual({
      allowedOwners: ['octo-org', 'hubot'],
      allowedRepositories: ['octo-org/*'],
      publicRepositories: 'deny',
    });
    expect(problemsOf({ ...minimal, RUNNER_SCOPE: 'enterprise', PUBLIC_REPOSITORIES: 'maybe' })).toEqual([
      'RUNNER_SCOPE must be one of repo, org, got "enterprise"',
      'PUBLIC_REPOSITORIES must be one of allow, deny, got "maybe"',
    ]);
  });

  it('never shows secrets in the redacted view', () => {
    const text = JSON.stringify(
      redactConfig(loadConfig({ ...minimal, GITHUB_TOKENS: 'hubot=tok_hubot', RECONCILE_TOKEN: 'rt' })),
    );
    expect(text).not.toContain('hook-secret');
    expect(text).not.toContain('github_pat_123');
    expect(text).not.toContain('tok_hubot');
    expect(text).toContain('"owners":["hubot"]');
    expect(text).toContain('"webhookSecrets":{"shared":["***"],"owners":{}}');
  });
});
