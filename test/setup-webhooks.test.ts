import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { freePort } from '../stand-ins/server-process.js';
import { APP, APP_KEY } from './support/github-app.js';

const run = promisify(execFile);
const script = fileURLToPath(new URL('../scripts/setup-webhooks.ts', import.meta.url));
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
let gh: GitHubStandIn;

beforeAll(async () => {
  gh = await startGitHubStandIn({ pats: { github_pat_octo: 'octo-org', github_pat_hubot: 'hubot' } });
});
afterAll(async () => {
  expect(gh.violations).toEqual([]);
  await gh.close();
});

async function setup(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await run(tsx, [script, ...args], {
      env: {
        PATH: process.env.PATH ?? '',
        GITHUB_API_URL: gh.url,
        GITHUB_TOKENS: 'octo-org=github_pat_octo,hubot=github_pat_hubot',
        WEBHOOK_SECRET: 'the-webhook-secret',
        ...env,
      },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('npm run setup-webhooks', () => {
  it('creates the workflow_job webhook on each repository, each owner with its own token', async () => {
    const result = await setup([
      '--url',
      'https://runners.example.com/webhook',
      '--repo',
      'octo-org/a',
      '--repo',
      'hubot/b',
    ]);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^octo-org\/a: webhook created \(hook id \d+\)\nhubot\/b: webhook created \(hook id \d+\)\n$/,
    );
    const [hook] = gh.hooksOf('octo-org/a');
    expect(hook).toMatchObject({
      events: ['workflow_job'],
      active: true,
      config: { url: 'https://runners.example.com/webhook', content_type: 'json', insecure_ssl: '0' },
    });
    expect(gh.hookSecret(Number(hook?.id))).toBe('the-webhook-secret');
  }, 30_000);

  it('updates instead of duplicating on a second run, and leaves other hooks alone', async () => {
    await setup(['--url', 'https://elsewhere.example.com/hook', '--repo', 'octo-org/a']);
    const result = await setup(['--url', 'https://runners.example.com/webhook', '--repo', 'octo-org/a'], {
      WEBHOOK_SECRET: 'rotated-secret',
    });
    expect(result.stdout).toMatch(/^octo-org\/a: webhook updated/);
    const hooks = gh.hooksOf('octo-org/a');
    expect(hooks.map((hook) => (hook.config as { url: string }).url)).toEqual([
      'https://runners.example.com/webhook',
      'https://elsewhere.example.com/hook',
    ]);
    expect(gh.hookSecret(Number(hooks[0]?.id))).toBe('rotated-secret');
  }, 30_000);

  it('reports a repository it cannot reach and exits non-zero, without printing the secret', async () => {
    const result = await setup(['--url', 'https://runners.example.com/webhook', '--repo', 'stranger/x']);
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('stranger/x: failed');
    expect(`${result.stdout}${result.stderr}`).not.toContain('the-webhook-secret');
  }, 30_000);

  it('refuses to run without the secret or a URL', async () => {
    const result = await setup(['--repo', 'octo-org/a'], { WEBHOOK_SECRET: '' });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain('--url must be the http(s) URL of the function');
    expect(result.stderr).toContain(
      'WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE) is required, or WEBHOOK_SECRETS',
    );
  }, 30_000);

  it("sets each owner's own secret from WEBHOOK_SECRETS (the new one of a rotation), the shared one for others", async () => {
    const result = await setup(
      ['--url', 'https://owners.example.com/webhook', '--repo', 'octo-org/c', '--repo', 'hubot/d'],
      { WEBHOOK_SECRETS: 'octo-org=octo-new\nocto-org=octo-old' },
    );
    expect(result.code).toBe(0);
    const secretOf = (repository: string) => {
      const hook = gh
        .hooksOf(repository)
        .find((one) => (one.config as { url: string }).url === 'https://owners.example.com/webhook');
      return gh.hookSecret(Number(hook?.id));
    };
    expect(secretOf('octo-org/c')).toBe('octo-new');
    expect(secretOf('hubot/d')).toBe('the-webhook-secret');
    expect(`${result.stdout}${result.stderr}`).not.toContain('octo-new');
  }, 30_000);

  it('refuses a repository whose owner has no secret when only WEBHOOK_SECRETS is set', async () => {
    const result = await setup(['--url', 'https://owners.example.com/webhook', '--repo', 'hubot/e'], {
      WEBHOOK_SECRET: '',
      WEBHOOK_SECRETS: 'octo-org=octo-new',
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain('hubot/e: no secret for hubot: add hubot=<secret> to WEBHOOK_SECRETS');
  }, 30_000);

  it('prints its usage for --help, and exits 0', async () => {
    const result = await setup(['--help']);
    expect(result.code).toBe(0);
    expect(result.stdout).toMatch(
      /^usage: npm run setup-webhooks -- --url https:\/\/HOST\/webhook --repo owner\/name/,
    );
    expect(result.stderr).toBe('');
  }, 30_000);

  it('refuses an unknown option with the usage and exit code 2, not a stack trace', async () => {
    const result = await setup(['--urll', 'https://runners.example.com/webhook']);
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("Unknown option '--urll'");
    expect(result.stderr).toContain('usage: npm run setup-webhooks');
    expect(result.stderr).not.toContain('    at ');
  }, 30_000);

  it('says it could not reach GitHub when nothing answers, not "HTTP 500"', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const result = await setup(['--url', 'https://runners.example.com/webhook', '--repo', 'octo-org/a'], {
      GITHUB_API_URL: closed,
    });
    expect(result.code).toBe(1);
    expect(result.stderr).toContain(`octo-org/a: failed: could not reach GitHub at ${closed} (ECONNREFUSED)`);
    expect(result.stderr).not.toContain('HTTP 500');
  }, 30_000);

  it("works with only a GitHub App's settings: each repository's installation token", async () => {
    const github = await startGitHubStandIn({ apps: [APP] });
    try {
      const result = await setup(['--url', 'https://app.example.com/webhook', '--repo', 'hubot/app-repo'], {
        GITHUB_API_URL: github.url,
        GITHUB_TOKENS: '',
        GITHUB_APP_ID: String(APP.appId),
        GITHUB_APP_PRIVATE_KEY: APP_KEY,
      });
      expect(result.stderr).toBe('');
      expect(result.code).toBe(0);
      expect(result.stdout).toMatch(/^hubot\/app-repo: webhook created \(hook id \d+\)\n$/);
      expect(github.mintedInstallationTokens).toEqual([22]);
      const [hook] = github.hooksOf('hubot/app-repo');
      expect(hook).toMatchObject({
        events: ['workflow_job'],
        config: { url: 'https://app.example.com/webhook' },
      });
      expect(github.violations).toEqual([]);
    } finally {
      await github.close();
    }
  }, 30_000);
});
