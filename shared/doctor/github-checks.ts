import type { GitHubCredential } from '../github/credentials.js';
import { type Check, type Finding, fail, pass, warn } from './check.js';
import {
  authorizationOf,
  describeGitHubError,
  type GitHubDoctorContext,
  statusOf,
} from './github-doctor-context.js';
import { repositoryPermissions } from './repository-permissions.js';

/** GitHub Enterprise Server first served just-in-time runner configuration in 3.10. */
const GHES_JIT_MINOR = 10;

interface RateLimit {
  readonly resources?: { readonly core?: { limit: number; remaining: number; reset: number } };
}

/**
 * The GitHub checks: the server (GHES version), each credential (valid, rate limit left), and on each known
 * repository whether the credential can do what the function does there, without leaving a runner behind.
 */
export function githubChecks(context: GitHubDoctorContext): Check[] {
  const { config } = context;
  const checks: Check[] = [];
  if (!/^https:\/\/api\.github\.com$/i.test(config.githubApiUrl)) {
    checks.push({
      group: 'github',
      check: 'API server and version',
      run: (signal) => ghesVersion(context, signal),
    });
  }
  const auth = config.githubAuth;
  if (auth.kind === 'tokens') {
    const labels = [
      ...(auth.fallbackToken === undefined ? [] : [{ label: 'pat:default', token: auth.fallbackToken }]),
      ...[...auth.tokens].map(([owner, token]) => ({ label: `pat:${owner}`, token })),
    ];
    for (const { label, token } of labels) {
      checks.push({
        group: 'github',
        check: `${label} valid, rate limit`,
        run: (signal) => tokenRateLimit(context, { token, label }, signal),
      });
      const owner = label === 'pat:default' ? undefined : label.slice('pat:'.length);
      const covered = context.repositories.some((repository) =>
        owner === undefined
          ? !auth.tokens.has(repository.owner.toLowerCase())
          : repository.owner.toLowerCase() === owner,
      );
      if (!covered) {
        checks.push({
          group: 'github',
          check: `${label} permissions`,
          run: async () =>
            warn(
              `not checked: no repository ${owner === undefined ? 'served by the fallback token' : `of ${owner}`} is known`,
              `pass --repo ${owner ?? 'OWNER'}/REPOSITORY, or list its hook in RECONCILE_HOOKS`,
            ),
        });
      }
    }
  } else {
    checks.push({
      group: 'github',
      check: `App ${auth.appId} key and installations`,
      run: (signal) => appInstallations(context, signal),
    });
  }
  for (const repository of context.repositories) {
    checks.push({
      group: 'github',
      check: `can serve ${repository.owner}/${repository.repo}`,
      run: (signal) => repositoryPermissions(context, repository, signal),
    });
  }
  return checks;
}

async function ghesVersion(context: GitHubDoctorContext, signal: AbortSignal): Promise<Finding> {
  let data: unknown;
  try {
    ({ data } = await context.request('GET /meta', { request: { signal } }));
  } catch (error) {
    throw new Error(`GET /meta: ${describeGitHubError(error)}`);
  }
  const version = (data as { installed_version?: unknown }).installed_version;
  if (typeof version !== 'string') {
    return pass(`${context.config.githubApiUrl} answers as GitHub does, with no Enterprise Server version`);
  }
  const [major, minor] = version.split('.').map(Number);
  if (major === 3 && (minor ?? 0) < GHES_JIT_MINOR) {
    return fail(
      `GitHub Enterprise Server ${version}`,
      `upgrade to 3.${GHES_JIT_MINOR} or later: the first with just-in-time runners`,
    );
  }
  return pass(`GitHub Enterprise Server ${version}`);
}

async function tokenRateLimit(
  context: GitHubDoctorContext,
  credential: GitHubCredential,
  signal: AbortSignal,
): Promise<Finding> {
  try {
    const { data } = await context.request('GET /rate_limit', {
      headers: { authorization: authorizationOf(credential) },
      request: { signal },
    });
    return rateLimitFinding((data as RateLimit).resources?.core, credential.label);
  } catch (error) {
    if (statusOf(error) === 401) {
      return fail(
        `GitHub refuses ${credential.label} (${describeGitHubError(error)})`,
        "generate a new fine-grained token and set it (GITHUB_TOKEN, or the owner's entry in GITHUB_TOKENS)",
      );
    }
    throw new Error(describeGitHubError(error));
  }
}

function rateLimitFinding(
  core: { limit: number; remaining: number; reset: number } | undefined,
  label: string,
): Finding {
  if (core === undefined) return warn(`${label} is valid; GitHub did not say its rate limit`);
  const reset = new Date(core.reset * 1000).toISOString().slice(11, 16);
  const seen = `valid; ${core.remaining} of ${core.limit} calls left until ${reset} UTC`;
  if (core.remaining === 0)
    return fail(
      seen,
      `spent: runners cannot be registered before ${reset} UTC; give busy owners their own token`,
    );
  if (core.remaining < core.limit / 10)
    return warn(seen, 'nearly spent: give busy owners their own token (GITHUB_TOKENS) or use a GitHub App');
  return pass(seen);
}

const NEEDED_APP_PERMISSIONS = (scope: 'repo' | 'org') =>
  scope === 'org'
    ? { actions: 'read', organization_self_hosted_runners: 'write' }
    : { actions: 'read', administration: 'write' };

async function appInstallations(context: GitHubDoctorContext, signal: AbortSignal): Promise<Finding> {
  const credential = await context.credentials.appCredential?.();
  if (credential === undefined) throw new Error('not in App mode');
  const headers = { authorization: authorizationOf(credential) };
  try {
    await context.request('GET /app', { headers, request: { signal } });
  } catch (error) {
    if (statusOf(error) === 401) {
      return fail(
        `GitHub refuses the App's key (${describeGitHubError(error)})`,
        'check GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY: the App ID and a private key generated in its settings',
      );
    }
    throw new Error(describeGitHubError(error));
  }
  const { data: installations } = await context.request('GET /app/installations', {
    headers,
    per_page: 100,
    request: { signal },
  });
  if (installations.length === 0)
    return fail('the App is installed nowhere', 'install the App on each account it serves');
  const needed = NEEDED_APP_PERMISSIONS(context.config.runnerScope);
  const problems: string[] = [];
  const seen: string[] = [];
  for (const installation of installations) {
    const name = `${installation.account && 'login' in installation.account ? installation.account.login : '?'} (${installation.id})`;
    const granted = installation.permissions as Record<string, string | undefined>;
    const missing = Object.entries(needed)
      .filter(([permission, level]) => !(granted[permission] === 'write' || granted[permission] === level))
      .map(([permission, level]) => `${permission}=${level}`);
    if (installation.suspended_at) problems.push(`${name} is suspended`);
    else if (missing.length > 0) problems.push(`${name} lacks ${missing.join(', ')}`);
    else {
      const token = await context.credentials.credentialFor({ owner: '', installationId: installation.id });
      const { data } = await context.request('GET /rate_limit', {
        headers: { authorization: authorizationOf(token) },
        request: { signal },
      });
      const core = (data as RateLimit).resources?.core;
      seen.push(`${name}${core ? ` ${core.remaining}/${core.limit} left` : ''}`);
    }
  }
  if (problems.length > 0) {
    return fail(
      problems.join('; '),
      `in the App's settings grant ${Object.entries(needed)
        .map(([p, l]) => `${p}: ${l}`)
        .join(', ')}, and approve the new permissions on each installation (or unsuspend it)`,
    );
  }
  return pass(`key valid; installations: ${seen.join(', ')}`);
}
