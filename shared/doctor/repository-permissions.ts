import type { GitHubCredential } from '../github/credentials.js';
import { type Finding, fail, pass } from './check.js';
import {
  acceptedPermissions,
  authorizationOf,
  describeGitHubError,
  type GitHubDoctorContext,
  statusOf,
} from './github-doctor-context.js';

/**
 * What the function does on a repository, probed without registering a runner: list runners (administration
 * read), read workflow runs (actions read, as the job reads do), and create a *remove* token, which needs the same
 * administration write as `generate-jitconfig` and registers nothing (it expires unused within the hour).
 */
export async function repositoryPermissions(
  context: GitHubDoctorContext,
  repository: { owner: string; repo: string },
  signal: AbortSignal,
): Promise<Finding> {
  const full = `${repository.owner}/${repository.repo}`;
  let credential: GitHubCredential;
  try {
    credential = await context.credentials.credentialFor(repository);
  } catch (error) {
    return fail(
      `no credential for ${full}: ${(error as Error).message}`,
      `add ${repository.owner}=<token> to GITHUB_TOKENS, or install the App there`,
    );
  }
  const headers = { authorization: authorizationOf(credential) };
  const org = context.config.runnerScope === 'org';
  const probes: [string, () => Promise<unknown>][] = [
    [
      'read workflow jobs',
      () =>
        context.request('GET /repos/{owner}/{repo}/actions/runs', {
          ...repository,
          per_page: 1,
          headers,
          request: { signal },
        }),
    ],
    [
      'list runners',
      () =>
        org
          ? context.request('GET /orgs/{org}/actions/runners', {
              org: repository.owner,
              per_page: 1,
              headers,
              request: { signal },
            })
          : context.request('GET /repos/{owner}/{repo}/actions/runners', {
              ...repository,
              per_page: 1,
              headers,
              request: { signal },
            }),
    ],
    [
      'register runners',
      () =>
        org
          ? context.request('POST /orgs/{org}/actions/runners/remove-token', {
              org: repository.owner,
              headers,
              request: { signal },
            })
          : context.request('POST /repos/{owner}/{repo}/actions/runners/remove-token', {
              ...repository,
              headers,
              request: { signal },
            }),
    ],
  ];
  const refused: string[] = [];
  const needs: string[] = [];
  for (const [what, probe] of probes) {
    try {
      await probe();
    } catch (error) {
      const status = statusOf(error);
      if (status === undefined || status >= 500) throw new Error(describeGitHubError(error));
      refused.push(`${what} (${describeGitHubError(error)})`);
      const accepted = acceptedPermissions(error);
      if (accepted !== undefined) needs.push(accepted);
      if (status === 404 || status === 401) break;
    }
  }
  if (refused.length === 0)
    return pass(
      `${credential.label} may read jobs, list runners and register runners${org ? ` in ${repository.owner}` : ''}`,
    );
  const fix =
    needs.length > 0
      ? `give ${credential.label} ${[...new Set(needs)].join('; ')} (GitHub's x-accepted-github-permissions) on ${org ? repository.owner : full}`
      : `give ${credential.label} access to ${full} with Actions: read, Administration: read and write (fine-grained token: Repository access and permissions; App: install it there)`;
  return fail(`${credential.label} may not ${refused.join(', ')}`, fix);
}
