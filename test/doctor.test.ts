/**
 * `doctor`'s GitHub and webhook checks against the GitHub stand-in (which answers as GitHub's published schema
 * says, with fine-grained permissions and `x-accepted-github-permissions` on a refusal), and its table, timeouts
 * and redaction. The Kubernetes checks run against the real API server in test/e2e/doctor.test.ts.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/load-config.js';
import { type Check, type CheckResult, runCheck, runChecks } from '../shared/doctor/check.js';
import { formatTable } from '../shared/doctor/format-table.js';
import { functionChecks } from '../shared/doctor/function-checks.js';
import { githubChecks } from '../shared/doctor/github-checks.js';
import { createGitHubDoctorContext } from '../shared/doctor/github-doctor-context.js';
import { runDoctor } from '../shared/doctor/run-doctor.js';
import { webhookChecks } from '../shared/doctor/webhook-checks.js';
import { parseWarnings } from '../shared/kubernetes/kube-api.js';
import { KubeConfigError } from '../shared/kubernetes/kube-connection.js';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { queuedPayload } from '../stand-ins/payloads.js';
import { APP, APP_ENV } from './support/github-app.js';

const TOKEN = 'github_pat_doctor_0123456789';
let github: GitHubStandIn | undefined;
const servers: Server[] = [];

afterEach(async () => {
  const standIn = github;
  github = undefined;
  if (standIn !== undefined) {
    await standIn.close();
    expect(standIn.violations).toEqual([]);
  }
  for (const server of servers.splice(0)) await new Promise((resolve) => server.close(resolve));
});

/** A loopback server answering every request with `status` (the function answers an unsigned POST 401). */
async function answering(status: number): Promise<string> {
  const server = createServer((request, response) => {
    request.resume();
    request.on('end', () => response.writeHead(status).end());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhook`;
}

function standIn(): GitHubStandIn {
  if (github === undefined) throw new Error('start the GitHub stand-in first');
  return github;
}

function env(extra: Record<string, string> = {}) {
  return {
    WEBHOOK_SECRET: 'webhook-secret-value',
    GITHUB_TOKEN: TOKEN,
    GITHUB_API_URL: standIn().url,
    ...extra,
  };
}

async function run(checks: Check[]): Promise<Map<string, CheckResult>> {
  const results = await runChecks(checks, 5000);
  return new Map(results.map((result) => [result.check, result]));
}

async function githubResults(
  extra: Record<string, string> = {},
  repositories = [{ owner: 'octo-org', repo: 'app' }],
) {
  const context = createGitHubDoctorContext(loadConfig(env(extra)), fetch, repositories);
  return run(githubChecks(context));
}

/** Creates a hook as GitHub would hold it; returns its id. */
async function createHook(config: Record<string, unknown>, events: string[]): Promise<number> {
  const response = await fetch(`${standIn().url}/repos/octo-org/app/hooks`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name: 'web', config, events, active: true }),
  });
  return ((await response.json()) as { id: number }).id;
}

async function webhookResults(hookId: number) {
  const context = createGitHubDoctorContext(
    loadConfig(env({ RECONCILE_HOOKS: `octo-org/app:${hookId}` })),
    fetch,
    [],
  );
  return run(webhookChecks(context));
}

describe('doctor: GitHub credentials', () => {
  it('passes a token that may do what the function does, and registers no runner finding out', async () => {
    github = await startGitHubStandIn({ pats: { [TOKEN]: 'octo-org' } });
    const results = await githubResults();
    expect(results.get('pat:default valid, rate limit')).toMatchObject({ status: 'pass' });
    expect(results.get('pat:default valid, rate limit')?.seen).toMatch(/of 5000 calls left/);
    expect(results.get('can serve octo-org/app')).toMatchObject({ status: 'pass' });
    expect(github.runners).toEqual([]);
  });

  it('fails a token without Administration write, naming the permission GitHub asks for', async () => {
    github = await startGitHubStandIn({
      pats: { [TOKEN]: 'octo-org' },
      patPermissions: { [TOKEN]: { actions: 'read', administration: 'read', metadata: 'read' } },
    });
    const served = (await githubResults()).get('can serve octo-org/app');
    expect(served).toMatchObject({ status: 'fail' });
    expect(served?.seen).toContain('may not register runners (HTTP 403');
    expect(served?.fix).toContain('administration=write');
    expect(github.runners).toEqual([]);
  });

  it('fails a token GitHub refuses, and one without access to the repository', async () => {
    github = await startGitHubStandIn({ pats: { github_pat_other_owner_000: 'hubot' } });
    const results = await githubResults({ GITHUB_TOKEN: 'github_pat_unknown_0000' });
    expect(results.get('pat:default valid, rate limit')).toMatchObject({ status: 'fail' });
    expect(results.get('pat:default valid, rate limit')?.seen).toContain('HTTP 401');
    const other = await githubResults({ GITHUB_TOKEN: 'github_pat_other_owner_000' });
    expect(other.get('can serve octo-org/app')).toMatchObject({ status: 'fail' });
  });

  it('warns when no repository of a token is known, instead of judging nothing', async () => {
    github = await startGitHubStandIn({ pats: { [TOKEN]: 'octo-org' } });
    const results = await githubResults({}, []);
    expect(results.get('pat:default permissions')).toMatchObject({ status: 'warn' });
    expect(results.get('pat:default permissions')?.fix).toContain('--repo');
  });

  it("fails an App installation that lacks Administration write, from the installation's own permissions", async () => {
    github = await startGitHubStandIn({
      apps: [
        {
          ...APP,
          installations: [
            { id: 11, account: 'octo-org' },
            { id: 22, account: 'hubot', permissions: { actions: 'write', metadata: 'read' } },
          ],
        },
      ],
    });
    const results = await githubResults({ ...APP_ENV, GITHUB_TOKEN: '' }, []);
    const app = results.get(`App ${APP.appId} key and installations`);
    expect(app).toMatchObject({ status: 'fail' });
    expect(app?.seen).toBe('hubot (22) lacks administration=write');
  });
});

describe('doctor: GitHub Enterprise Server', () => {
  it.each([
    ['3.9.2', 'fail'],
    ['3.17.0', 'pass'],
  ])('judges version %s by when just-in-time runners came (3.10): %s', async (version, status) => {
    github = await startGitHubStandIn({ token: TOKEN, pathPrefix: '/api/v3', enterpriseVersion: version });
    const results = await githubResults();
    expect(results.get('API server and version')).toMatchObject({
      status,
      seen: `GitHub Enterprise Server ${version}`,
    });
  });
});

describe('doctor: webhooks', () => {
  it('passes a hook set up as setup-webhooks does, whose URL answers as the function does', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const url = await answering(401);
    const hookId = await createHook({ url, content_type: 'json', secret: 'webhook-secret-value' }, [
      'workflow_job',
    ]);
    const results = await webhookResults(hookId);
    expect([...results.values()].map((result) => result.status)).toEqual(['pass', 'pass', 'pass']);
  });

  it('fails a hook without the workflow_job event', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const hookId = await createHook(
      { url: await answering(401), content_type: 'json', secret: 's3cret-value' },
      ['push'],
    );
    const settings = (await webhookResults(hookId)).get(`octo-org/app hook ${hookId} settings`);
    expect(settings).toMatchObject({ status: 'fail', seen: 'sends push, not workflow_job' });
    expect(settings?.fix).toContain('"Workflow jobs"');
  });

  it('fails a hook with the form content type', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const hookId = await createHook(
      { url: await answering(401), content_type: 'form', secret: 's3cret-value' },
      ['workflow_job'],
    );
    const settings = (await webhookResults(hookId)).get(`octo-org/app hook ${hookId} settings`);
    expect(settings).toMatchObject({ status: 'fail', seen: 'content type form' });
    expect(settings?.fix).toContain('application/json');
  });

  it('fails a hook without a secret, and a URL something else answers', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const hookId = await createHook({ url: await answering(404), content_type: 'json' }, ['workflow_job']);
    const results = await webhookResults(hookId);
    expect(results.get(`octo-org/app hook ${hookId} settings`)).toMatchObject({
      status: 'fail',
      seen: 'no secret',
    });
    expect(results.get(`octo-org/app hook ${hookId} URL answers`)).toMatchObject({ status: 'fail' });
  });

  it('fails a hook of an owner the function has no credential for', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const context = createGitHubDoctorContext(
      loadConfig({
        ...env({ GITHUB_TOKEN: '', GITHUB_TOKENS: `octo-org=${TOKEN}` }),
        RECONCILE_HOOKS: 'hubot/app:7',
      }),
      fetch,
      [],
    );
    const settings = (await run(webhookChecks(context))).get('hubot/app hook 7 settings');
    expect(settings).toMatchObject({
      status: 'fail',
      seen: 'no GitHub token for owner hubot: add hubot=<token> to GITHUB_TOKENS',
    });
  });

  it('counts the failed recent deliveries and says what a 401 means', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const url = await answering(401);
    const hookId = await createHook({ url, content_type: 'json', secret: 'wrong-secret' }, ['workflow_job']);
    github.setHook({ url, secret: 'wrong-secret', hookId });
    await github.deliver(
      'workflow_job',
      queuedPayload({ owner: 'octo-org', repo: 'app' }) as unknown as Record<string, unknown>,
    );
    await github.deliver(
      'workflow_job',
      queuedPayload({ owner: 'octo-org', repo: 'app' }) as unknown as Record<string, unknown>,
    );
    const deliveries = (await webhookResults(hookId)).get(`octo-org/app hook ${hookId} recent deliveries`);
    expect(deliveries).toMatchObject({ status: 'fail', seen: '2 of 2 in the last 24 h failed (401 x2)' });
    expect(deliveries?.fix).toContain('secret differs from WEBHOOK_SECRET');
  });

  it("fails the App's hook when the App does not subscribe to workflow_job", async () => {
    github = await startGitHubStandIn({
      apps: [{ ...APP, events: ['push'], hook: { url: 'http://127.0.0.1:9/webhook' } }],
    });
    const context = createGitHubDoctorContext(loadConfig(env({ ...APP_ENV, GITHUB_TOKEN: '' })), fetch, []);
    const results = await run(webhookChecks(context));
    expect(results.get('App hook settings')).toMatchObject({
      status: 'fail',
      seen: 'sends push, not workflow_job',
    });
  });
});

describe('doctor: the function', () => {
  it('renders a job per profile, and warns of a profile an earlier one always wins over', async () => {
    const profiles = [
      'profiles:',
      '  - { name: linux, match: linux, mode: standard }',
      '  - { name: gpu, match: gpu, mode: userns }',
      '  - { name: big-linux, match: big+linux, mode: dind }',
    ].join('\n');
    const loaded = {
      config: loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', RUNNER_PROFILES: profiles }),
    };
    const results = await run(functionChecks(loaded));
    expect(results.get('a job on [self-hosted, gpu]')).toMatchObject({
      status: 'pass',
      seen: 'profile gpu (userns): ghcr.io/actions/actions-runner:2.338.0',
    });
    const shadowed = results.get('a job on [self-hosted, big, linux]');
    expect(shadowed?.status).toBe('warn');
    expect(shadowed?.seen).toContain('profile big-linux is never chosen for it');
    const asked = await run(functionChecks(loaded, ['self-hosted', 'arm64']));
    expect(asked.get('a job on [self-hosted, arm64]')?.seen).toContain('no profile matches');
  });
});

describe('doctor: the run', () => {
  it('gives a check that hangs its timeout, and one that throws a warning saying why; the rest go on', async () => {
    const hangs: Check = { group: 'g', check: 'hangs', run: () => new Promise(() => undefined) };
    const throws: Check = { group: 'g', check: 'throws', run: () => Promise.reject(new Error('no route')) };
    const passes: Check = { group: 'g', check: 'passes', run: async () => ({ status: 'pass', seen: 'ok' }) };
    const results = await runChecks([hangs, throws, passes], 50);
    expect(results.map((result) => [result.status, result.seen])).toEqual([
      ['warn', 'not run to the end: no answer within 0.05 s'],
      ['warn', 'could not run: no route'],
      ['pass', 'ok'],
    ]);
    expect((await runCheck(passes, 50)).status).toBe('pass');
  });

  it("reads the API server's Warning headers, several joined, quotes escaped", () => {
    const header =
      '299 - "would violate PodSecurity \\"restricted:latest\\": privileged (container \\"dind\\"), a, b", 299 - "second"';
    expect(parseWarnings(header)).toEqual([
      'would violate PodSecurity "restricted:latest": privileged (container "dind"), a, b',
      'second',
    ]);
  });

  it('prints a table with a mark, the check, what was seen and the fix', () => {
    const table = formatTable([
      {
        group: 'kubernetes',
        check: 'namespace x exists',
        status: 'fail',
        seen: 'namespace x does not exist',
        fix: 'kubectl create namespace x',
      },
      { group: 'github', check: 'pat:default valid', status: 'pass', seen: 'valid' },
      { group: 'webhooks', check: 'hooks to check', status: 'warn', seen: 'none' },
    ]);
    expect(table.split('\n')).toEqual([
      '   CHECK                           SEEN                        FIX',
      '✗  kubernetes: namespace x exists  namespace x does not exist  kubectl create namespace x',
      '✓  github: pat:default valid       valid',
      '!  webhooks: hooks to check        none',
      '',
      '1 passed, 1 failed, 1 warnings',
    ]);
  });

  it('never prints a secret, even one an upstream echoes back', async () => {
    github = await startGitHubStandIn({ pats: { [TOKEN]: 'octo-org' } });
    github.inject('runners', { status: 403, message: `token ${TOKEN} refused; secret webhook-secret-value` });
    const results = await runDoctor({
      env: env({ RECONCILE_HOOKS: 'octo-org/app:1' }),
      fetch,
      connect: () => {
        throw new KubeConfigError('no Kubernetes credentials found');
      },
      timeoutMs: 5000,
    });
    const text = JSON.stringify(results);
    expect(text).toContain('***');
    expect(text).not.toContain(TOKEN);
    expect(text).not.toContain('webhook-secret-value');
    expect(results.find((result) => result.check === 'API server reachable')).toMatchObject({
      status: 'fail',
    });
    expect(results.filter((result) => result.group === 'kubernetes' && result.status === 'pass')).toEqual([]);
  });

  it('reports every configuration problem at once, and runs what needs no configuration', async () => {
    github = await startGitHubStandIn({ token: TOKEN });
    const results = await runDoctor({
      env: { RUNNER_MODE: 'nope', GITHUB_TOKEN: '' },
      fetch,
      connect: () => {
        throw new KubeConfigError('no Kubernetes credentials found');
      },
    });
    const configuration = results.find((result) => result.check === 'configuration valid');
    expect(configuration?.status).toBe('fail');
    expect(configuration?.seen).toMatch(
      /RUNNER_MODE must be one of.*WEBHOOK_SECRET is required|WEBHOOK_SECRET is required.*RUNNER_MODE/,
    );
    expect(configuration?.seen).toContain('GITHUB_TOKEN is required');
    expect(results.find((result) => result.check === 'API server reachable')?.seen).toContain(
      'no usable credentials',
    );
  });
});
