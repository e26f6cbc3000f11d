/**
 * The configuration, read once from the environment. Longer than 250 lines on purpose: every setting, its default
 * and its check sit in one function (the house rule: config parsed in one place), so every problem is reported at
 * once.
 */

import type { GitHubLimits } from '../github/credential-budget.js';
import { type LabelMatcher, parseLabelMatchers } from '../labels/label-matchers.js';
import { type MetricsConfig, parseMetricsConfig } from '../metrics/metrics-config.js';
import type { RepositoryPolicy } from '../policy/repository-policy.js';
import { parseProfiles } from '../profiles/parse-profiles.js';
import { placementProblems } from '../profiles/profile-placement.js';
import {
  DEFAULT_ACTIVE_DEADLINE_SECONDS,
  DEFAULT_RESOURCES,
  type RunnerProfile,
} from '../profiles/runner-profile.js';
import { createEnvReader, type Env } from './env-reader.js';
import { type GitHubAuth, parseGitHubAuth } from './github-auth.js';
import { parseGitHubLimits } from './github-limits.js';
import { type ProxyEnv, parseProxyEnv } from './parse-proxy-env.js';
import { DEFAULT_DIND_IMAGES, DEFAULT_RUNNER_IMAGES, RUNNER_MODES, type RunnerMode } from './runner-modes.js';
import { parseWebhookSecrets, redactWebhookSecrets, type WebhookSecrets } from './webhook-secrets.js';

export { DEFAULT_RUNNER_IMAGES, RUNNER_MODES, type RunnerMode } from './runner-modes.js';

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** Everything the function is configured with, read once at start. */
export interface Config {
  /** The secrets deliveries may be signed with: shared, per owner, each with a previous one during a rotation. */
  readonly webhookSecrets: WebhookSecrets;
  /** Most bytes of a webhook body read; more is refused with 413 (WEBHOOK_MAX_BODY_BYTES). */
  readonly maxBodyBytes: number;
  /** PATs per owner (with a fallback), or a GitHub App. */
  readonly githubAuth: GitHubAuth;
  /** `repo`: repository runners; `org`: organisation runners (JIT at the org, in RUNNER_GROUP_ID). */
  readonly runnerScope: 'repo' | 'org';
  readonly policy: RepositoryPolicy;
  /** GitHub REST API base, without a trailing slash (GitHub Enterprise Server: `https://HOST/api/v3`). */
  readonly githubApiUrl: string;
  readonly runnerGroupId: number;
  readonly runnerMode: RunnerMode;
  /** RUNNER_IMAGE, or the official image of the pinned release (profiles that name none follow GitHub's releases). */
  readonly runnerImage: string;
  /** The Docker daemon sidecar image of the Docker modes (DIND_IMAGE, or the mode's default). */
  readonly dindImage: string;
  /** Namespace of the runner Jobs and their Secrets. */
  readonly namespace: string;
  readonly labelMatchers: readonly LabelMatcher[];
  /**
   * What runner pods are made of, chosen by job labels: the profiles file (RUNNER_PROFILES_FILE), or one profile
   * implied by LABEL_MATCHERS, RUNNER_MODE, RUNNER_IMAGE and DIND_IMAGE.
   */
  readonly profiles: readonly RunnerProfile[];
  /** Most runners started at once across all profiles; unset: no cap. */
  readonly maxRunners: number | undefined;
  /** The HTTP port (PORT); 0: any free port, the one taken is in the `listening` log line. */
  readonly port: number;
  /** Seconds a finished runner Job is kept before Kubernetes' TTL controller deletes it. */
  readonly jobTtlSeconds: number;
  readonly logLevel: LogLevel;
  /** Bearer token that `POST /reconcile` requires; unset: the endpoint refuses every call. */
  readonly reconcileToken: string | undefined;
  /** A started runner Job whose pod is not ready after this long is removed by reconcile. */
  readonly runnerStartTimeoutSeconds: number;
  /**
   * How long a delivery (or reconcile) holds a runner record while it starts the runner; a record whose holder
   * died is taken over after this. Longer than GitHub's 10 s for one delivery.
   */
  readonly claimTtlSeconds: number;
  /** Where metrics are pushed (statsd_exporter), who may read `/metrics`, and how many owners get a label. */
  readonly metrics: MetricsConfig;
  /**
   * Time for one reconcile pass. It must fit the request timeout it is served under (Knative's `timeoutSeconds`,
   * 9 s in knative/service.yaml): a pass stops in time, says `truncated`, and the caller calls again.
   */
  readonly reconcileBudgetSeconds: number;
  /**
   * How long the reconcile task (`start.cjs reconcile`, the CronJob's pod) goes on with passes while work is left:
   * under the CronJob's period (4 minutes), so that runs never overlap and none is skipped.
   */
  readonly reconcileRunSeconds: number;
  /** Repository webhooks whose failed deliveries reconcile redelivers (`owner/repo:hookId`). */
  readonly reconcileHooks: readonly { owner: string; repo: string; hookId: number }[];
  /** HTTPS_PROXY, HTTP_PROXY, NO_PROXY (and lower-case forms); logs with its passwords as `***` by itself. */
  readonly proxy: ProxyEnv;
  /** GitHub's rate limits per credential, shared by the fleet (the GITHUB_* limits; GITHUB_LIMIT_INSTANCES caps one process). */
  readonly githubLimits: GitHubLimits;
}

/** Every problem found in the environment, reported at once. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: readonly string[]) {
    super(`invalid configuration: ${problems.join('; ')}`);
  }
}

/**
 * Reads and validates the configuration from the environment. Pure: returns a frozen Config, or throws one
 * ConfigError listing every problem.
 */
export function loadConfig(env: Env): Config {
  const problems: string[] = [];
  const { text, integer, oneOf } = createEnvReader(env, problems);

  const webhookSecrets = parseWebhookSecrets(env, problems, text('GITHUB_APP_ID') !== undefined);
  const githubAuth = parseGitHubAuth(env, problems);
  const patterns = (name: string) =>
    (text(name) ?? '')
      .split(',')
      .map((pattern) => pattern.trim())
      .filter((pattern) => pattern !== '');
  const runnerMode = oneOf('RUNNER_MODE', RUNNER_MODES, 'dind-rootless');

  const githubApiUrl = (text('GITHUB_API_URL') ?? 'https://api.github.com').replace(/\/+$/, '');
  if (!isHttpUrl(githubApiUrl)) problems.push(`GITHUB_API_URL must be an http(s) URL, got "${githubApiUrl}"`);

  const namespace = text('NAMESPACE') ?? 'default';
  if (!/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/.test(namespace)) {
    problems.push(`NAMESPACE must be a valid Kubernetes namespace name, got "${namespace}"`);
  }

  let labelMatchers: LabelMatcher[] = [];
  try {
    labelMatchers = parseLabelMatchers(env.LABEL_MATCHERS);
  } catch (error) {
    problems.push((error as Error).message);
  }

  const runnerImage = text('RUNNER_IMAGE') ?? DEFAULT_RUNNER_IMAGES[runnerMode];
  const dindImage = text('DIND_IMAGE') ?? DEFAULT_DIND_IMAGES[runnerMode];
  let profiles: RunnerProfile[] = [
    {
      name: 'default',
      matchers: labelMatchers,
      mode: runnerMode,
      image: runnerImage,
      followsReleases: text('RUNNER_IMAGE') === undefined,
      dindImage,
      resources: DEFAULT_RESOURCES,
      activeDeadlineSeconds: DEFAULT_ACTIVE_DEADLINE_SECONDS,
      env: [],
      volumes: [],
    },
  ];
  const profilesText = env.RUNNER_PROFILES;
  let fromFile = false;
  if (profilesText !== undefined && profilesText.trim() !== '') {
    if (text('LABEL_MATCHERS') !== undefined) {
      problems.push(
        'set LABEL_MATCHERS or a profiles file (RUNNER_PROFILES_FILE), not both: each profile has its match',
      );
    }
    try {
      profiles = parseProfiles(profilesText, {
        mode: runnerMode,
        image: text('RUNNER_IMAGE'),
        dindImage: text('DIND_IMAGE'),
      });
      fromFile = true;
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  // A profile whose own match names a machine its placement excludes could never serve those jobs: say so now.
  for (const profile of profiles) {
    const where = fromFile ? `RUNNER_PROFILES_FILE: profile "${profile.name}"` : 'LABEL_MATCHERS';
    for (const problem of placementProblems(profile)) problems.push(`${where}: ${problem}`);
  }

  const config: Config = {
    webhookSecrets,
    // A workflow_job delivery is ~11 KB (~200 bytes a step); 256 KiB holds a thousand steps, and 50 unsigned bodies
    // at once stay within the Service's memory request (test/integration/hostile-load.test.ts), where 1 MiB did not.
    maxBodyBytes: integer('WEBHOOK_MAX_BODY_BYTES', 256 * 1024, 1024, 25 * 1024 * 1024),
    githubAuth,
    runnerScope: oneOf('RUNNER_SCOPE', ['repo', 'org'] as const, 'repo'),
    policy: {
      allowedOwners: patterns('ALLOWED_OWNERS'),
      allowedRepositories: patterns('ALLOWED_REPOSITORIES'),
      publicRepositories: oneOf('PUBLIC_REPOSITORIES', ['allow', 'deny'] as const, 'allow'),
    },
    githubApiUrl,
    runnerGroupId: integer('RUNNER_GROUP_ID', 1, 1, Number.MAX_SAFE_INTEGER),
    runnerMode,
    runnerImage,
    dindImage,
    namespace,
    labelMatchers,
    profiles,
    maxRunners: text('MAX_RUNNERS') === undefined ? undefined : integer('MAX_RUNNERS', 0, 1, 100_000),
    port: integer('PORT', 8080, 0, 65535),
    jobTtlSeconds: integer('JOB_TTL_SECONDS', 300, 0, 7 * 24 * 3600),
    logLevel: oneOf('LOG_LEVEL', LOG_LEVELS, 'info'),
    reconcileToken: text('RECONCILE_TOKEN'),
    runnerStartTimeoutSeconds: integer('RUNNER_START_TIMEOUT_SECONDS', 900, 60, 7 * 24 * 3600),
    claimTtlSeconds: integer('CLAIM_TTL_SECONDS', 30, 1, 3600),
    metrics: parseMetricsConfig(env, problems),
    reconcileBudgetSeconds: integer('RECONCILE_BUDGET_SECONDS', 7, 2, 3600),
    reconcileRunSeconds: integer('RECONCILE_RUN_SECONDS', 200, 0, 3600),
    reconcileHooks: parseHooks(text('RECONCILE_HOOKS'), problems),
    proxy: parseProxyEnv(env, problems),
    githubLimits: parseGitHubLimits(env, problems),
  };
  if (problems.length > 0) throw new ConfigError(problems);
  return Object.freeze(config);
}

/** The configuration as it may be logged: secrets replaced by `***`. */
export function redactConfig(config: Config): Record<string, unknown> {
  return {
    ...config,
    webhookSecrets: redactWebhookSecrets(config.webhookSecrets),
    githubAuth:
      config.githubAuth.kind === 'app'
        ? { kind: 'app', appId: config.githubAuth.appId, privateKey: '***' }
        : {
            kind: 'tokens',
            owners: [...config.githubAuth.tokens.keys()],
            fallbackToken: config.githubAuth.fallbackToken === undefined ? undefined : '***',
          },
    reconcileToken: config.reconcileToken === undefined ? undefined : '***',
    metrics: { ...config.metrics, token: config.metrics.token === undefined ? undefined : '***' },
  };
}

function parseHooks(
  value: string | undefined,
  problems: string[],
): { owner: string; repo: string; hookId: number }[] {
  if (value === undefined) return [];
  const hooks = [];
  for (const entry of value.split(',').map((part) => part.trim())) {
    const match = /^([A-Za-z0-9-]+)\/([A-Za-z0-9._-]+):(\d+)$/.exec(entry);
    if (match === null) {
      problems.push(`RECONCILE_HOOKS entries must look like owner/repo:hookId, got "${entry}"`);
      continue;
    }
    hooks.push({ owner: match[1] as string, repo: match[2] as string, hookId: Number(match[3]) });
  }
  return hooks;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}
