/** The webhook installer in-process, against the GitHub stand-in (which checks every call against GitHub's schema). */
import { afterEach, describe, expect, it } from 'vitest';
import { createTokenCredentials } from '../shared/github/credentials.js';
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
});
