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

/**
 * Creates or updates the `workflow_job` webhook of each repository, idempotently: a hook with the same URL is
 * updated (events, content type, secret, active), never duplicated; hooks with other URLs are left alone.
 * https://docs.github.com/en/rest/repos/webhooks
 */
export function createWebhookInstaller(options: {
  baseUrl: string;
  credentials: CredentialProvider;
  fetch?: typeof fetch;
}) {
  const request = githubRequest(options.baseUrl, options.fetch);

  return async function ensureWebhook(repo: RepoRef, target: WebhookTarget): Promise<EnsureResult> {
    const { token } = await options.credentials.credentialFor(repo);
    const headers = { authorization: `token ${token}` };
    const config = { url: target.url, content_type: 'json', secret: target.secret, insecure_ssl: '0' };
    const { data: hooks } = await request('GET /repos/{owner}/{repo}/hooks', {
      owner: repo.owner,
      repo: repo.repo,
      per_page: 100,
      headers,
    });
    const existing = hooks.find((hook) => hook.config.url === target.url);
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
