import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { startJsonServer } from '../stand-ins/http-server.js';
import { queuedPayload } from '../stand-ins/payloads.js';
import { type RunnerBroker, startRunnerBroker } from '../stand-ins/runner-broker.js';

/*
 * The broker is the GitHub side of the real-node tests' runners: what it answers is what the runner stand-in's
 * run.sh acts on, so its rules are held here, over HTTP, as run.sh meets them.
 */

const TOKEN = 'ghp_broker';
let github: GitHubStandIn;
let broker: RunnerBroker;
let hook: { url: string; close: () => Promise<void> };
const delivered: { action: string; runner: unknown; conclusion: unknown }[] = [];

beforeAll(async () => {
  github = await startGitHubStandIn({ token: TOKEN });
  broker = await startRunnerBroker(github, '127.0.0.1');
  hook = await startJsonServer((request) => {
    const payload = request.body as { action: string; workflow_job: Record<string, unknown> };
    delivered.push({
      action: payload.action,
      runner: payload.workflow_job.runner_name,
      conclusion: payload.workflow_job.conclusion,
    });
    return { status: 200, body: {} };
  });
  github.setHook({ url: hook.url, secret: 'hook-secret' });
});
afterAll(async () => {
  expect(github.violations).toEqual([]);
  await Promise.all([broker.close(), hook.close(), github.close()]);
});

/** Registers a runner as the function does, and returns what its JIT config tells run.sh. */
async function register(repo: string, name: string, labels: string[]) {
  const response = await fetch(`${github.url}/repos/${repo}/actions/runners/generate-jitconfig`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, runner_group_id: 1, labels, work_folder: '_work' }),
  });
  expect(response.status).toBe(201);
  const { encoded_jit_config } = (await response.json()) as { encoded_jit_config: string };
  const files = JSON.parse(Buffer.from(encoded_jit_config, 'base64').toString()) as Record<string, string>;
  const decode = (file: string) => JSON.parse(Buffer.from(files[file] ?? '', 'base64').toString());
  const settings = decode('.runner') as { agentId: number; serverUrlV2: string; gitHubUrl: string };
  const credentials = decode('.credentials') as { data: { clientId: string } };
  return { ...settings, clientId: credentials.data.clientId, files: Object.keys(files) };
}

const post = async (url: string, body: unknown) => {
  const response = await fetch(url, { method: 'POST', body: JSON.stringify(body) });
  const text = await response.text();
  return { status: response.status, body: text === '' ? undefined : JSON.parse(text) };
};

describe('the runner broker', () => {
  it("writes the runner's settings files into the JIT config, naming the broker", async () => {
    const runner = await register('octo/one', 'runner-1', ['self-hosted', 'k8s']);
    expect(runner.files).toEqual(['.runner', '.credentials', '.credentials_rsaparams']);
    expect(runner.serverUrlV2).toBe(broker.url);
    expect(runner.gitHubUrl).toBe('https://github.com/octo/one');
  });

  it('gives a runner a queued job it carries the labels of, then reports it as GitHub does', async () => {
    const runner = await register('octo/two', 'runner-2', ['self-hosted', 'K8s']);
    const proof = { agentId: runner.agentId, clientId: runner.clientId, version: '2.338.0' };
    expect((await post(`${broker.url}session`, proof)).status).toBe(204);

    const other = queuedPayload({ jobId: 201, owner: 'octo', repo: 'elsewhere', labels: ['self-hosted'] });
    const wider = queuedPayload({ jobId: 202, owner: 'octo', repo: 'two', labels: ['self-hosted', 'gpu'] });
    const fits = queuedPayload({ jobId: 203, owner: 'octo', repo: 'two', labels: ['self-hosted', 'k8s'] });
    broker.queue(other, 'echo other');
    broker.queue(wider, 'echo wider');
    broker.queue(fits, 'echo fits');

    const taken = await post(`${broker.url}session`, proof);
    expect(taken).toMatchObject({ status: 200, body: { jobId: 203, script: 'echo fits' } });
    // Asked again (a restarted run.sh), the runner gets the same job, not a second one.
    expect((await post(`${broker.url}session`, proof)).body).toMatchObject({ jobId: 203 });

    const done = await post(`${broker.url}jobs/203/complete`, { ...proof, result: 'failed', exitCode: 3 });
    expect(done.status).toBe(200);
    await github.settled();
    expect(delivered.filter((d) => d.runner === 'runner-2')).toEqual([
      { action: 'in_progress', runner: 'runner-2', conclusion: null },
      { action: 'completed', runner: 'runner-2', conclusion: 'failure' },
    ]);
    expect(broker.events.filter((e) => e.runner === 'runner-2').map((e) => e.kind)).toEqual([
      'online',
      'took',
      'completed',
    ]);
  });

  it('refuses a runner that cannot prove its JIT config, and a version GitHub no longer serves', async () => {
    const runner = await register('octo/three', 'runner-3', ['self-hosted']);
    const forged = { agentId: runner.agentId, clientId: 'not-its-client-id', version: '2.338.0' };
    expect((await post(`${broker.url}session`, forged)).status).toBe(401);
    expect((await post(`${broker.url}session`, { agentId: runner.agentId })).status).toBe(401);

    broker.refuseVersion('2.330.0');
    const old = await post(`${broker.url}session`, { ...runner, version: '2.330.0' });
    expect(old).toEqual({
      status: 403,
      body: { message: 'Runner version v2.330.0 is deprecated and cannot receive messages.' },
    });
    expect(broker.events.at(-1)).toMatchObject({ kind: 'refused', runner: 'runner-3' });
  });

  it('waits for an event that has not happened yet, and names what it saw when none comes', async () => {
    const runner = await register('octo/four', 'runner-4', ['self-hosted']);
    const online = broker.waitFor((e) => e.kind === 'online' && e.runner === 'runner-4', 5_000);
    await post(`${broker.url}session`, { ...runner, version: '2.338.0' });
    await expect(online).resolves.toMatchObject({ runner: 'runner-4' });
    await expect(broker.waitFor((e) => e.runner === 'nobody', 50)).rejects.toThrow(/no broker event/);
  });
});
