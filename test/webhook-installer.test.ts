/** The webhook installer in-process, against the GitHub stand-in (which checks every call against GitHub's schema). */
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenCredentials } from '../shared/github/credentials.js';
import { githubRequest } from '../shared/github/github-request.js';
import { createWebhookInstaller } from '../shared/github/webhook-installer.js';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';

const TOKEN = 'github_pat_installer';
let github: GitHubStandIn;

afterEach(async () => {
  expect(github.violations).toEqual([]);
  await github.close();
});

describe('createWebhookInstaller', () => {
  it('creates the workflow_job hook once, then updates it in place; other hooks are left alone', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const ensureWebhook = createWebhookInstaller({
      baseUrl: github.url,
      credentials: createTokenCredentials(new Map(), TOKEN),
    });
    const repo = { owner: 'octo-org', repo: 'app' };
    const other = await ensureWebhook(repo, { url: 'https://elsewhere.example/hook', secret: 'other' });
    const created = await ensureWebhook(repo, { url: 'https://runners.example/webhook', secret: 'first' });
    expect(created).toMatchObject({ repository: 'octo-org/app', action: 'created' });
    const updated = await ensureWebhook(repo, { url: 'https://runners.example/webhook', secret: 'second' });
    expect(updated).toEqual({ repository: 'octo-org/app', action: 'updated', hookId: created.hookId });
    const hooks = github.hooksOf('octo-org/app');
    expect(hooks).toHaveLength(2);
    expect(hooks.map((hook) => hook.events)).toEqual([['workflow_job'], ['workflow_job']]);
    expect(github.hookSecret(created.hookId)).toBe('second');
    expect(github.hookSecret(other.hookId)).toBe('other');
  });

  it('finds its hook past the first page of hooks (GitHub pages them, 100 at most)', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const request = githubRequest(github.url);
    const headers = { authorization: `token ${TOKEN}` };
    // 110 other hooks first. GitHub allows 20 hooks per event on a repository, so they spread over events.
    const events = ['push', 'pull_request', 'issues', 'release', 'deployment', 'status', 'create', 'delete'];
    for (let index = 0; index < 110; index += 1) {
      await request('POST /repos/{owner}/{repo}/hooks', {
        owner: 'octo-org',
        repo: 'busy',
        name: 'web',
        config: { url: `https://other.example/hook/${index}`, content_type: 'json' },
        events: [events[index % events.length] as string],
        headers,
      });
    }
    const ensureWebhook = createWebhookInstaller({
      baseUrl: github.url,
      credentials: createTokenCredentials(new Map(), TOKEN),
    });
    const repo = { owner: 'octo-org', repo: 'busy' };
    const created = await ensureWebhook(repo, { url: 'https://runners.example/webhook', secret: 'first' });
    const again = await ensureWebhook(repo, { url: 'https://runners.example/webhook', secret: 'second' });
    expect(again).toEqual({ repository: 'octo-org/busy', action: 'updated', hookId: created.hookId });
    expect(github.hooksOf('octo-org/busy')).toHaveLength(111);
    expect(github.hookSecret(created.hookId)).toBe('second');
  });

  it('never sends the token to another host that a Link header names', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const asked: string[] = [];
    const fetchStub = (async (input: string | URL | Request) => {
      asked.push(String(input));
      return new Response('[]', {
        status: 200,
        headers: {
          'content-type': 'application/json',
          link: '<https://elsewhere.example/repos/octo-org/app/hooks?page=2>; rel="next"',
        },
      });
    }) as typeof fetch;
    const ensureWebhook = createWebhookInstaller({
      baseUrl: 'https://api.github.example',
      credentials: createTokenCredentials(new Map(), TOKEN),
      fetch: fetchStub,
    });
    await expect(
      ensureWebhook(
        { owner: 'octo-org', repo: 'app' },
        { url: 'https://runners.example/webhook', secret: 's' },
      ),
    ).rejects.toThrow('GitHub named a next page on another host (https://elsewhere.example); not followed');
    expect(asked).toEqual(['https://api.github.example/repos/octo-org/app/hooks?per_page=100']);
  });
});
