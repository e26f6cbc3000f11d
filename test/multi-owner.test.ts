import { generateKeyPairSync } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';
import { APP, APP_ENV } from './support/github-app.js';

let h: AppHarness | undefined;
afterEach(async () => {
  expect(h?.github.violations).toEqual([]);
  await h?.close();
  h = undefined;
});

type Options = Parameters<typeof queuedPayload>[0];
async function deliver(harness: AppHarness, options: Options) {
  const payload = queuedPayload(options);
  harness.github.addJob(payload.repository.full_name, payload.workflow_job);
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  const response = await harness.app.request('/webhook', { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('per-owner fine-grained tokens', () => {
  const pats = { github_pat_octo: 'octo-org', github_pat_hubot: 'hubot' };

  it('serves two owners, each with its own token, and labels rate limits by owner, never by token', async () => {
    h = await startAppHarness(
      { GITHUB_TOKEN: '', GITHUB_TOKENS: 'octo-org=github_pat_octo\nhubot=github_pat_hubot' },
      { github: { pats } },
    );
    expect(await deliver(h, { jobId: 1, owner: 'octo-org', repo: 'a' })).toMatchObject({
      status: 200,
      body: { outcome: 'created' },
    });
    expect(await deliver(h, { jobId: 2, owner: 'hubot', repo: 'b' })).toMatchObject({
      status: 200,
      body: { outcome: 'created' },
    });
    expect(h.github.runners.map((runner) => runner.repository)).toEqual(['octo-org/a', 'hubot/b']);
    const authorizations = new Set(
      h.github.calls.map((call) => `${call.path.split('/')[2]} ${call.authorization}`),
    );
    // GitHub's runner releases are read once, with the credential of the first delivery's owner.
    expect(authorizations).toEqual(
      new Set([
        'octo-org token github_pat_octo',
        'hubot token github_pat_hubot',
        'actions token github_pat_octo',
      ]),
    );
    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toMatch(/github_api_rate_limit_remaining\{credential="pat:octo-org"\} \d+/);
    expect(metrics).toMatch(/github_api_rate_limit_remaining\{credential="pat:hubot"\} \d+/);
    expect(metrics).not.toContain('github_pat_');
    expect(h.logText()).not.toContain('github_pat_octo');
  });

  it('answers 422 and makes nothing for an owner it has no token for', async () => {
    h = await startAppHarness(
      { GITHUB_TOKEN: '', GITHUB_TOKENS: 'octo-org=github_pat_octo' },
      { github: { pats } },
    );
    const answer = await deliver(h, { jobId: 3, owner: 'stranger', repo: 'c' });
    expect(answer).toEqual({
      status: 422,
      body: { error: 'no GitHub token for owner stranger: add stranger=<token> to GITHUB_TOKENS' },
    });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(
      h.logs.some(
        (line) => line.status === 422 && String(line.reason).startsWith('no GitHub token for owner stranger'),
      ),
    ).toBe(true);
  });

  it('falls back to GITHUB_TOKEN for other owners', async () => {
    h = await startAppHarness(
      { GITHUB_TOKEN: 'github_pat_hubot', GITHUB_TOKENS: 'octo-org=github_pat_octo' },
      { github: { pats } },
    );
    expect((await deliver(h, { jobId: 4, owner: 'hubot', repo: 'b' })).status).toBe(200);
  });
});

describe('GitHub App mode', () => {
  const appEnv = APP_ENV;

  it('uses installation tokens of the delivering installation, minted once and cached', async () => {
    h = await startAppHarness(appEnv, { github: { apps: [APP] } });
    for (const [jobId, owner, installationId] of [
      [10, 'octo-org', 11],
      [11, 'octo-org', 11],
      [20, 'hubot', 22],
      [21, 'hubot', 22],
    ] as const) {
      expect(await deliver(h, { jobId, owner, repo: 'r', installationId })).toMatchObject({
        status: 200,
        body: { outcome: 'created' },
      });
    }
    expect(h.github.mintedInstallationTokens).toEqual([11, 22]);
    expect(h.github.runners).toHaveLength(4);
    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toMatch(/github_api_rate_limit_remaining\{credential="app-installation:11"\} \d+/);
    expect(metrics).toMatch(/github_api_rate_limit_remaining\{credential="app-installation:22"\} \d+/);
    expect(h.logText()).not.toContain('ghs_');
    expect(h.logText()).not.toContain('PRIVATE KEY');
  });

  it('answers 422 and makes nothing for an installation the App does not have', async () => {
    h = await startAppHarness(appEnv, { github: { apps: [APP] } });
    const answer = await deliver(h, { jobId: 30, owner: 'octo-org', repo: 'r', installationId: 99 });
    expect(answer.status).toBe(422);
    expect(answer.body.error).toBe('the GitHub App has no usable installation 99 (HTTP 404)');
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('refuses an App JWT signed with another key', async () => {
    const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
      .privateKey.export({ type: 'pkcs1', format: 'pem' })
      .toString();
    h = await startAppHarness({ ...appEnv, GITHUB_APP_PRIVATE_KEY: other }, { github: { apps: [APP] } });
    expect((await deliver(h, { jobId: 31, owner: 'octo-org', repo: 'r', installationId: 11 })).status).toBe(
      422,
    );
    expect(h.github.mintedInstallationTokens).toEqual([]);
  });

  it('works against GitHub Enterprise Server under /api/v3', async () => {
    h = await startAppHarness(appEnv, { github: { apps: [APP], pathPrefix: '/api/v3' } });
    expect(h.config.githubApiUrl.endsWith('/api/v3')).toBe(true);
    expect(await deliver(h, { jobId: 40, owner: 'hubot', repo: 'r', installationId: 22 })).toMatchObject({
      status: 200,
    });
    expect(h.github.mintedInstallationTokens).toEqual([22]);
  });
});

describe('organisation runners', () => {
  it('registers the JIT runner at the organisation, in RUNNER_GROUP_ID', async () => {
    h = await startAppHarness({ RUNNER_SCOPE: 'org', RUNNER_GROUP_ID: '7' });
    expect(await deliver(h, { jobId: 50, owner: 'octo-org', repo: 'r' })).toMatchObject({ status: 200 });
    expect(h.github.runners[0]).toMatchObject({
      repository: 'org:octo-org',
      runnerGroupId: 7,
      name: 'runner-50',
    });
    // The job is read again once its record exists (a cancellation may have come in between), then registered;
    // GitHub's newest runner release is read beside the first read.
    expect(h.github.calls.map((call) => call.route).sort()).toEqual(
      ['job', 'job', 'latestRelease', 'orgJit'].sort(),
    );
  });
});

describe('allowlists and public repositories', () => {
  it.each([
    [{ ALLOWED_OWNERS: 'octo-*' }, { owner: 'hubot', repo: 'r' }, 'owner hubot is not in ALLOWED_OWNERS'],
    [
      { ALLOWED_REPOSITORIES: 'octo-org/app-*' },
      { owner: 'octo-org', repo: 'other' },
      'repository octo-org/other is not in ALLOWED_REPOSITORIES',
    ],
    [
      { PUBLIC_REPOSITORIES: 'deny' },
      { owner: 'octo-org', repo: 'open', isPublic: true },
      'repository octo-org/open is public and PUBLIC_REPOSITORIES=deny',
    ],
  ])('refuses with a valid signature: %j', async (env, target, reason) => {
    h = await startAppHarness(env);
    const answer = await deliver(h, { jobId: 60, ...target });
    expect(answer).toEqual({ status: 200, body: { outcome: 'ignored', reason } });
    expect(h.github.calls).toHaveLength(0);
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(h.logs.some((line) => line.msg === 'repository refused by policy' && line.reason === reason)).toBe(
      true,
    );
  });

  it.each([
    [{ ALLOWED_OWNERS: 'octo-*' }, { owner: 'Octo-Org', repo: 'r' }],
    [{ ALLOWED_REPOSITORIES: 'octo-org/app-*' }, { owner: 'octo-org', repo: 'app-web' }],
    [{ PUBLIC_REPOSITORIES: 'deny' }, { owner: 'octo-org', repo: 'closed', isPublic: false }],
  ])('serves what the policy allows: %j', async (env, target) => {
    h = await startAppHarness(env);
    expect(await deliver(h, { jobId: 61, ...target })).toMatchObject({
      status: 200,
      body: { outcome: 'created' },
    });
  });
});
