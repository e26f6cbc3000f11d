import { request as octokitRequest } from '@octokit/request';

/**
 * `@octokit/request` bound to a GitHub API base (github.com or GitHub Enterprise Server) with the headers every
 * call of this project sends; `fetch` is the seam for tests. Authentication is added per call.
 */
export function githubRequest(baseUrl: string, fetchImpl?: typeof fetch, userAgent = 'kube-actions-runner') {
  return octokitRequest.defaults({
    baseUrl,
    headers: { 'user-agent': userAgent, 'x-github-api-version': '2022-11-28' },
    ...(fetchImpl === undefined ? {} : { request: { fetch: fetchImpl } }),
  });
}
