/**
 * actions/runner's releases as GitHub's REST API serves them, for the GitHub stand-in: `GET
 * /repos/{owner}/{repo}/releases/latest` (the newest published release that is not a prerelease) and `GET
 * /repos/{owner}/{repo}/releases` (newest first, paged), each body in GitHub's `release` schema, each answer with an
 * `ETag`, and a 304 with no body when `If-None-Match` names the current one, as GitHub answers a conditional request
 * (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
 */
import { createHash } from 'node:crypto';
import { PINNED_RUNNER_VERSION } from '../shared/config/runner-modes.js';
import type { JsonResponse } from './http-server.js';

/** A release to serve: its version (tag `v<version>`) and how many days ago it was published. */
export interface StandInRelease {
  readonly version: string;
  readonly daysAgo: number;
  readonly prerelease?: boolean;
}

const DAY_MS = 24 * 3600 * 1000;

/** By default the pinned release, published long ago: what the function runs anyway, so nothing moves. */
export const DEFAULT_RELEASES: readonly StandInRelease[] = [{ version: PINNED_RUNNER_VERSION, daysAgo: 40 }];

export function createStandInReleases() {
  let releases: { version: string; publishedAt: number; prerelease: boolean }[] = [];
  const set = (list: readonly StandInRelease[]) => {
    const at = Date.now();
    releases = list
      .map((release) => ({
        version: release.version,
        publishedAt: at - release.daysAgo * DAY_MS,
        prerelease: release.prerelease === true,
      }))
      .sort((a, b) => b.publishedAt - a.publishedAt);
  };
  set(DEFAULT_RELEASES);

  /** The answer, or a 304 when the caller already holds it. */
  const conditional = (
    body: unknown,
    ifNoneMatch: string | undefined,
    headers: Record<string, string> = {},
  ): JsonResponse => {
    const etag = `W/"${createHash('sha256').update(JSON.stringify(body)).digest('hex').slice(0, 32)}"`;
    const matches = (ifNoneMatch ?? '').split(',').some((tag) => tag.trim() === etag || tag.trim() === '*');
    return matches
      ? { status: 304, body: undefined, headers: { etag } }
      : { status: 200, body, headers: { ...headers, etag } };
  };

  return {
    set,
    /** `GET /repos/{owner}/{repo}/releases/latest`: only actions/runner has releases here. */
    latest(apiUrl: string, repository: string, ifNoneMatch: string | undefined): JsonResponse | undefined {
      if (repository.toLowerCase() !== 'actions/runner') return undefined;
      const newest = releases.find((release) => !release.prerelease);
      if (newest === undefined) return undefined;
      return conditional(releaseBody(apiUrl, newest), ifNoneMatch);
    },
    /**
     * `GET /repos/{owner}/{repo}/releases`: `per_page` up to 100 (default 30), `page` from 1, and while there are
     * more a `Link` header naming the next and last pages.
     */
    list(apiUrl: string, repository: string, url: URL, ifNoneMatch: string | undefined): JsonResponse {
      const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30) || 30);
      const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
      const all = repository.toLowerCase() === 'actions/runner' ? releases : [];
      const body = all.slice((page - 1) * perPage, page * perPage).map((r) => releaseBody(apiUrl, r));
      if (page * perPage >= all.length) return conditional(body, ifNoneMatch);
      const pageUrl = (number: number) => {
        const link = new URL(`${url.pathname}${url.search}`, new URL(apiUrl).origin);
        link.searchParams.set('page', String(number));
        return link.href;
      };
      const last = Math.ceil(all.length / perPage);
      return conditional(body, ifNoneMatch, {
        link: `<${pageUrl(page + 1)}>; rel="next", <${pageUrl(last)}>; rel="last"`,
      });
    },
  };
}

/** A release in GitHub's `release` schema: every required field. */
function releaseBody(
  apiUrl: string,
  release: { version: string; publishedAt: number; prerelease: boolean },
): Record<string, unknown> {
  // An id of its own per version, stable across `set` calls (GitHub's ids only grow; nothing here compares them).
  const id = Number.parseInt(createHash('sha256').update(release.version).digest('hex').slice(0, 8), 16);
  const api = `${apiUrl}/repos/actions/runner/releases/${id}`;
  const tag = `v${release.version}`;
  const time = new Date(release.publishedAt).toISOString().replace(/\.\d+Z$/, 'Z');
  const user = 'github-actions[bot]';
  const users = `${apiUrl}/users/${encodeURIComponent(user)}`;
  return {
    url: api,
    html_url: `https://github.com/actions/runner/releases/tag/${tag}`,
    assets_url: `${api}/assets`,
    upload_url: `https://uploads.github.com/repos/actions/runner/releases/${id}/assets{?name,label}`,
    tarball_url: `${apiUrl}/repos/actions/runner/tarball/${tag}`,
    zipball_url: `${apiUrl}/repos/actions/runner/zipball/${tag}`,
    id,
    node_id: `RE_${id}`,
    tag_name: tag,
    target_commitish: 'main',
    name: tag,
    body: `## What's Changed\n\nRunner ${release.version}.`,
    draft: false,
    prerelease: release.prerelease,
    immutable: false,
    created_at: time,
    published_at: time,
    updated_at: time,
    author: {
      login: user,
      id: 41898282,
      node_id: 'MDM6Qm90NDE4OTgyODI=',
      avatar_url: 'https://avatars.githubusercontent.com/in/15368?v=4',
      gravatar_id: '',
      url: users,
      html_url: 'https://github.com/apps/github-actions',
      followers_url: `${users}/followers`,
      following_url: `${users}/following{/other_user}`,
      gists_url: `${users}/gists{/gist_id}`,
      starred_url: `${users}/starred{/owner}{/repo}`,
      subscriptions_url: `${users}/subscriptions`,
      organizations_url: `${users}/orgs`,
      repos_url: `${users}/repos`,
      events_url: `${users}/events{/privacy}`,
      received_events_url: `${users}/received_events`,
      type: 'Bot',
      site_admin: false,
    },
    assets: [],
  };
}
