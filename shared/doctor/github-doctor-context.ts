import type { Config } from '../config/load-config.js';
import { type CredentialProvider, createCredentials, type GitHubCredential } from '../github/credentials.js';
import { githubRequest } from '../github/github-request.js';

/** What the GitHub and webhook checks share: the configuration, a request function, the credentials. */
export interface GitHubDoctorContext {
  readonly config: Config;
  readonly request: ReturnType<typeof githubRequest>;
  readonly credentials: CredentialProvider;
  /** The repositories to check permissions on: `--repo`, and those of RECONCILE_HOOKS. */
  readonly repositories: readonly { readonly owner: string; readonly repo: string }[];
  /** The fetch for calls outside GitHub's API (a hook's URL). */
  readonly fetch: typeof fetch;
}

/** Builds the context from the configuration; `fetch` is the seam for the proxy and for tests. */
export function createGitHubDoctorContext(
  config: Config,
  fetchImpl: typeof fetch,
  extraRepositories: readonly { owner: string; repo: string }[],
): GitHubDoctorContext {
  const seen = new Set<string>();
  const repositories = [...extraRepositories, ...config.reconcileHooks].flatMap(({ owner, repo }) => {
    const key = `${owner}/${repo}`.toLowerCase();
    if (seen.has(key)) return [];
    seen.add(key);
    return [{ owner, repo }];
  });
  return {
    config,
    request: githubRequest(config.githubApiUrl, fetchImpl, 'kube-actions-runner-doctor'),
    credentials: createCredentials(config.githubAuth, config.githubApiUrl, fetchImpl),
    repositories,
    fetch: fetchImpl,
  };
}

/** The Authorization header of a credential. */
export function authorizationOf(credential: GitHubCredential): string {
  return `${credential.scheme === 'bearer' ? 'Bearer' : 'token'} ${credential.token}`;
}

/** A GitHub failure in a line: the status and GitHub's message (never the request, which carries the token). */
export function describeGitHubError(error: unknown): string {
  const status = statusOf(error);
  const message = (error as { response?: { data?: { message?: unknown } } }).response?.data?.message;
  if (status !== undefined) return `HTTP ${status}${typeof message === 'string' ? ` ${message}` : ''}`;
  const text = String((error as Error).message ?? error);
  return /abort|timeout/i.test(text) ? 'timed out' : `no answer (${text.slice(0, 120)})`;
}

/** The HTTP status GitHub answered, or undefined when it did not answer at all. */
export function statusOf(error: unknown): number | undefined {
  if ((error as { response?: unknown }).response === undefined) return undefined;
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' ? status : undefined;
}

/** The permissions GitHub says the endpoint needs (`x-accepted-github-permissions`), when it said. */
export function acceptedPermissions(error: unknown): string | undefined {
  const headers = (error as { response?: { headers?: Record<string, unknown> } }).response?.headers;
  const value = headers?.['x-accepted-github-permissions'];
  return typeof value === 'string' && value !== '' ? value : undefined;
}
