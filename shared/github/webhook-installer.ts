import type { CredentialProvider } from './credentials.js';
import type { RepoRef } from './github-client.js';
import { githubRequest } from './github-request.js';

export interface WebhookTarget {
  /** The function's public URL, e.g. `https://runners.example.com/webhook`. */
  readonly url: string;
  readonly secret: string;
}

export type EnsureResult = {
  readonly repository: string;
  readonly action: 'created' | 'updated';
  readonly hookId: number;
};

interface Hook {
  readonly id: number;
  readonly config: { readonly url?: string | undefined };
}

/**
 * Creates or updates the `workflow_job` webhook of each repository, idempotently: a hook with the same URL is
 * updated (events, content type, secret, active), never duplicated; hooks with other URLs are left alone. Every
 * page of the repository's hooks is read (GitHub pages lists by the `Link` header, at most 100 a page). Works with
 * a fine-grained PAT or a GitHub App's installation token, each with the repository permission Webhooks: read and
 * write (the App's `repository_hooks`).
 * https://docs.github.com/en/rest/repos/webhooks
 */
export function createWebhookInstaller(options: {
  baseUrl: string;
  credentials: CredentialProvider;
  fetch?: typeof fetch;
}) {
  const request = githubRequest(options.baseUrl, options.fetch);
  const origin = new URL(options.baseUrl).origin;

  async function findHook(repo: RepoRef, url: string, headers: Record<string, string>) {
    let page: { data: unknown; headers: { link?: string | undefined } } = await request(
      'GET /repos/{owner}/{repo}/hooks',
      {
        owner: repo.owner,
        repo: repo.repo,
        per_page: 100,
        headers,
      },
    );
    for (;;) {
      const hooks = page.data as readonly Hook[];
      const found = hooks.find((hook) => hook.config.url === url);
      if (found !== undefined) return found;
      const next = nextPage(page.headers.link);
      if (next === undefined) return undefined;
      // The token goes only to the API it was made for, whatever a Link header names.
      if (new URL(next).origin !== origin) {
        throw new Error(`GitHub named a next page on another host (${new URL(next).origin}); not followed`);
      }
      page = await request(`GET ${next}`, { headers });
    }
  }

  return async function ensureWebhook(repo: RepoRef, target: WebhookTarget): Promise<EnsureResult> {
    const { token } = await options.credentials.credentialFor(repo);
    const headers = { authorization: `token ${token}` };
    const config = { url: target.url, content_type: 'json', secret: target.secret, insecure_ssl: '0' };
    const existing = await findHook(repo, target.url, headers);
    const repository = `${repo.owner}/${repo.repo}`;
    if (existing) {
      await request('PATCH /repos/{owner}/{repo}/hooks/{hook_id}', {
        owner: repo.owner,
        repo: repo.repo,
        hook_id: existing.id,
        config,
        events: ['workflow_job'],
        active: true,
        headers,
      });
      return { repository, action: 'updated', hookId: existing.id };
    }
    const { data: created } = await request('POST /repos/{owner}/{repo}/hooks', {
      owner: repo.owner,
      repo: repo.repo,
      name: 'web',
      config,
      events: ['workflow_job'],
      active: true,
      headers,
    });
    return { repository, action: 'created', hookId: created.id };
  };
}

/** The `rel="next"` URL of a `Link` header, if any. */
function nextPage(link: string | undefined): string | undefined {
  return link === undefined ? undefined : /<([^>]+)>;\s*rel="next"/.exec(link)?.[1];
}
