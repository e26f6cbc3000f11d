/**
 * The runner stand-in's start script (scripts/images/runner/run.sh, /home/runner/run.sh in its image) against the
 * runner broker, on loopback, as the real node's pods run it: from the JIT config the GitHub stand-in made, it
 * takes its job, runs it, reports it, and exits with the official run.sh's exit codes (actions/runner
 * src/Misc/layoutroot/run.sh and run-helper.sh.template). Needs bash, curl, jq and setsid on the machine, as the
 * image has them.
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { startJsonServer } from '../stand-ins/http-server.js';
import { queuedPayload } from '../stand-ins/payloads.js';
import { type BrokerEvent, type RunnerBroker, startRunnerBroker } from '../stand-ins/runner-broker.js';
import { tempDir } from './support/temp-dir.js';

const RUN_SH = fileURLToPath(new URL('../scripts/images/runner/run.sh', import.meta.url));
const TOOLS = ['bash', 'curl', 'jq', 'setsid'];
const TOKEN = 'ghp_runner_script';
const VERSION = '2.338.0';

let github: GitHubStandIn;
let broker: RunnerBroker;
let hook: { url: string; close: () => Promise<void> };
const delivered: { action: string; job: unknown; runner: unknown; conclusion: unknown }[] = [];

beforeAll(async () => {
  const missing = TOOLS.filter((tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0);
  if (missing.length > 0)
    throw new Error(`run.sh needs ${missing.join(', ')}: install them (apt-get install jq)`);
  github = await startGitHubStandIn({ token: TOKEN });
  broker = await startRunnerBroker(github, '127.0.0.1');
  hook = await startJsonServer((request) => {
    const { action, workflow_job: job } = request.body as {
      action: string;
      workflow_job: Record<string, unknown>;
    };
    delivered.push({ action, job: job.id, runner: job.runner_name, conclusion: job.conclusion });
    return { status: 200, body: {} };
  });
  github.setHook({ url: hook.url, secret: 'hook-secret' });
});
afterAll(async () => {
  expect(github.violations).toEqual([]);
  await Promise.all([broker?.close(), hook?.close(), github?.close()]);
});

/** Registers a runner as the function does; returns its encoded JIT config. */
async function register(repo: string, name: string): Promise<string> {
  const response = await fetch(`${github.url}/repos/${repo}/actions/runners/generate-jitconfig`, {
    method: 'POST',
    headers: { authorization: `token ${TOKEN}`, 'content-type': 'application/json' },
    body: JSON.stringify({ name, runner_group_id: 1, labels: ['self-hosted', 'k8s'], work_folder: '_work' }),
  });
  expect(response.status).toBe(201);
  return ((await response.json()) as { encoded_jit_config: string }).encoded_jit_config;
}

/** /home/runner as the image lays it out: run.sh beside .runner-version. */
function runnerHome(version = VERSION): string {
  const home = tempDir('runner-home');
  copyFileSync(RUN_SH, join(home, 'run.sh'));
  chmodSync(join(home, 'run.sh'), 0o755);
  writeFileSync(join(home, '.runner-version'), `${version}\n`);
  return home;
}

interface Run {
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; output: string }>;
}

/** Starts run.sh as the pod does, with the image's environment and the container's own. */
function startRunSh(home: string, env: Record<string, string>): Run {
  const child = spawn('bash', [join(home, 'run.sh')], {
    env: {
      PATH: process.env.PATH ?? '/usr/bin:/bin',
      HOME: home,
      RUNNER_MANUALLY_TRAP_SIG: '1',
      // The test may run as root, which the real run-helper.sh refuses unless told.
      RUNNER_ALLOW_RUNASROOT: '1',
      RUNNER_STAND_IN_POLL_SECONDS: '0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const exited = new Promise<{ code: number | null; output: string }>((resolve) =>
    child.on('close', (code) => resolve({ code, output })),
  );
  return { child, exited };
}

const queue = (jobId: number, repo: string, script: string) =>
  broker.queue(queuedPayload({ jobId, owner: 'octo', repo, labels: ['self-hosted'] }), script);
const eventsOf = (runner: string) =>
  broker.events.filter((event) => event.runner === runner).map(({ at: _at, ...event }) => event);
const completedBy = (runner: string) => (event: BrokerEvent) =>
  event.kind === 'completed' && event.runner === runner;

describe("the runner stand-in's run.sh", () => {
  it('takes a queued job, runs it in the work folder without the JIT config, reports it and exits 0', async () => {
    const jit = await register('octo/one', 'runner-1');
    queue(101, 'one', 'echo "$PWD" > seen-from; env > seen-env; echo job ran');
    const home = runnerHome();
    const { code, output } = await startRunSh(home, { ACTIONS_RUNNER_INPUT_JITCONFIG: jit }).exited;

    expect(code, output).toBe(0);
    expect(output).toContain('job ran');
    expect(readFileSync(join(home, '_work', 'seen-from'), 'utf8').trim()).toBe(join(home, '_work'));
    // As the real runner, it hides its inputs from the job, and writes its settings files into its folder.
    expect(readFileSync(join(home, '_work', 'seen-env'), 'utf8')).not.toContain('ACTIONS_RUNNER_INPUT_');
    for (const file of ['.runner', '.credentials', '.credentials_rsaparams']) {
      expect(existsSync(join(home, file)), file).toBe(true);
    }
    expect(eventsOf('runner-1')).toEqual([
      { kind: 'online', runner: 'runner-1' },
      { kind: 'took', runner: 'runner-1', jobId: 101 },
      { kind: 'completed', runner: 'runner-1', jobId: 101, result: 'succeeded', exitCode: 0 },
    ]);
    await github.settled();
    expect(delivered.filter((delivery) => delivery.job === 101)).toEqual([
      { action: 'in_progress', job: 101, runner: 'runner-1', conclusion: null },
      { action: 'completed', job: 101, runner: 'runner-1', conclusion: 'success' },
    ]);
  });

  it('waits for a job while the service has none (204), then takes it', async () => {
    const jit = await register('octo/two', 'runner-2');
    const run = startRunSh(runnerHome(), { ACTIONS_RUNNER_INPUT_JITCONFIG: jit });
    await broker.waitFor((event) => event.kind === 'online' && event.runner === 'runner-2', 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    queue(201, 'two', 'true');
    const { code, output } = await run.exited;
    expect(code, output).toBe(0);
    expect(eventsOf('runner-2').at(-1)).toEqual({
      kind: 'completed',
      runner: 'runner-2',
      jobId: 201,
      result: 'succeeded',
      exitCode: 0,
    });
  });

  it('reports a failing job as failed with its exit code, and still exits 0 (the listener is done)', async () => {
    const jit = await register('octo/three', 'runner-3');
    // bash -e: the first failing command ends the job.
    queue(301, 'three', 'echo before; (exit 3); echo never');
    const { code, output } = await startRunSh(runnerHome(), { ACTIONS_RUNNER_INPUT_JITCONFIG: jit }).exited;
    expect(code, output).toBe(0);
    expect(output).toContain('before');
    expect(output).not.toContain('never');
    expect(eventsOf('runner-3').at(-1)).toMatchObject({ kind: 'completed', result: 'failed', exitCode: 3 });
  });

  it('exits 7 when the service refuses its version and the pod asks for it, 0 otherwise', async () => {
    broker.refuseVersion('2.330.0');
    const asked = await startRunSh(runnerHome('2.330.0'), {
      ACTIONS_RUNNER_INPUT_JITCONFIG: await register('octo/four', 'runner-4'),
      ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE: '1',
    }).exited;
    expect(asked.code, asked.output).toBe(7);
    expect(asked.output).toContain('Runner version v2.330.0 is deprecated and cannot receive messages.');

    const notAsked = await startRunSh(runnerHome('2.330.0'), {
      ACTIONS_RUNNER_INPUT_JITCONFIG: await register('octo/four', 'runner-5'),
    }).exited;
    expect(notAsked.code, notAsked.output).toBe(0);
    expect(eventsOf('runner-4').map((event) => event.kind)).toEqual(['refused']);
    expect(eventsOf('runner-5').map((event) => event.kind)).toEqual(['refused']);
  });

  it('gives up with 0 when the service refuses its credentials, or its JIT config is not one', async () => {
    const jit = await register('octo/six', 'runner-6');
    const files = JSON.parse(Buffer.from(jit, 'base64').toString()) as Record<string, string>;
    const credentials = JSON.parse(Buffer.from(files['.credentials'] ?? '', 'base64').toString());
    credentials.data.clientId = 'not-its-client-id';
    files['.credentials'] = Buffer.from(JSON.stringify(credentials)).toString('base64');
    const forged = Buffer.from(JSON.stringify(files)).toString('base64');
    queue(601, 'six', 'true');

    const refused = await startRunSh(runnerHome(), { ACTIONS_RUNNER_INPUT_JITCONFIG: forged }).exited;
    expect(refused.code, refused.output).toBe(0);
    expect(refused.output).toContain('(401)');
    expect(eventsOf('runner-6')).toEqual([]);

    const garbled = await startRunSh(runnerHome(), { ACTIONS_RUNNER_INPUT_JITCONFIG: 'not base64 JSON' })
      .exited;
    expect(garbled.code, garbled.output).toBe(0);
    expect(garbled.output).toContain('not base64 JSON');
  });

  it('cancels its job on SIGTERM, reports it and exits 0', async () => {
    const jit = await register('octo/seven', 'runner-7');
    queue(701, 'seven', 'sleep 30 & wait');
    const run = startRunSh(runnerHome(), { ACTIONS_RUNNER_INPUT_JITCONFIG: jit });
    await broker.waitFor((event) => event.kind === 'took' && event.runner === 'runner-7', 5_000);
    await new Promise((resolve) => setTimeout(resolve, 300));
    const stopped = Date.now();
    run.child.kill('SIGTERM');
    const { code, output } = await run.exited;
    expect(code, output).toBe(0);
    expect(Date.now() - stopped).toBeLessThan(5_000);
    await broker.waitFor(completedBy('runner-7'), 1_000);
    expect(eventsOf('runner-7').at(-1)).toMatchObject({ kind: 'completed', jobId: 701, result: 'canceled' });
  });

  it.runIf(process.getuid?.() === 0)(
    'refuses to run as root unless RUNNER_ALLOW_RUNASROOT is set',
    async () => {
      const { code, output } = await startRunSh(runnerHome(), {
        RUNNER_ALLOW_RUNASROOT: '',
        ACTIONS_RUNNER_INPUT_JITCONFIG: await register('octo/eight', 'runner-8'),
      }).exited;
      expect(code).toBe(1);
      expect(output).toContain('Must not run interactively with sudo');
      expect(eventsOf('runner-8')).toEqual([]);
    },
  );
});
