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
      webhookSecret: 'hook-secret',
      githubToken: 'github_pat_123',
      githubApiUrl: 'https://api.github.com',
      runnerGroupId: 1,
      runnerMode: 'dind-rootless',
      runnerImage: 'ghcr.io/actions/actions-runner-dind-rootless:latest',
      dindImage: 'docker:dind',
      namespace: 'default',
      labelMatchers: [],
      port: 8080,
      jobTtlSeconds: 300,
      logLevel: 'info',
      reconcileToken: undefined,
      runnerStartTimeoutSeconds: 900,
      claimTtlSeconds: 30,
      metricsPushgatewayUrl: undefined,
      metricsJob: 'kube-actions-runner',
      reconcileHooks: [],
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
      'WEBHOOK_SECRET is required (the secret set on the GitHub webhook)',
      'GITHUB_TOKEN is required (a fine-grained PAT with Actions and Administration read/write)',
      'RUNNER_MODE must be one of standard, userns, dind, dind-rootless, got "rootful"',
      'GITHUB_API_URL must be an http(s) URL, got "ftp://example.com"',
      'NAMESPACE must be a valid Kubernetes namespace name, got "Not_A_Namespace"',
      'LABEL_MATCHERS "linux,,x64" has an empty label (check for doubled or trailing , ; +)',
      'RUNNER_GROUP_ID must be a whole number from 1 to 9007199254740991, got "0"',
      'PORT must be a whole number from 1 to 65535, got "80a"',
      'JOB_TTL_SECONDS must be a whole number from 0 to 604800, got "-1"',
      'LOG_LEVEL must be one of fatal, error, warn, info, debug, trace, silent, got "loud"',
    ]);
  });

  it('treats blank values as unset', () => {
    expect(problemsOf({ WEBHOOK_SECRET: '  ', GITHUB_TOKEN: 'x' })).toEqual([
      'WEBHOOK_SECRET is required (the secret set on the GitHub webhook)',
    ]);
  });

  it('never shows secrets in the redacted view', () => {
    const text = JSON.stringify(redactConfig(loadConfig(minimal)));
    expect(text).not.toContain('hook-secret');
    expect(text).not.toContain('github_pat_123');
    expect(text).toContain('"webhookSecret":"***"');
  });
});
