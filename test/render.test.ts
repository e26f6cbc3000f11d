import { execFile, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { loadAllYaml, type V1Job, type V1Secret } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_DIND_ROOTLESS_IMAGE } from '../shared/config/runner-modes.js';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';

const run = promisify(execFile);
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const script = fileURLToPath(new URL('../scripts/render.ts', import.meta.url));
const profiles = fileURLToPath(new URL('../examples/runner-profiles.yaml', import.meta.url));

// GitHub's releases come from a stand-in: no test reaches api.github.com.
let github: GitHubStandIn;
beforeAll(async () => {
  github = await startGitHubStandIn({ token: 'unused' });
});
afterAll(async () => {
  expect(github.violations).toEqual([]);
  await github.close();
});

async function render(args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout } = await run(tsx, [script, ...args], {
      env: { PATH: process.env.PATH ?? '', NAMESPACE: 'ci', GITHUB_API_URL: github.url, ...env },
    });
    return { code: 0, stdout, stderr: '' };
  } catch (error) {
    const failure = error as { code: number; stdout: string; stderr: string };
    return { code: failure.code, stdout: failure.stdout, stderr: failure.stderr };
  }
}

describe('npm run render', () => {
  it('prints the Job and the redacted Secret a gpu job would get, from the profiles file', async () => {
    const { code, stdout } = await render(['--labels', 'self-hosted,linux,gpu', '--profiles', profiles]);
    expect(code).toBe(0);
    expect(stdout.split('\n')[0]).toBe('# profile "gpu" (mode userns) for labels [self-hosted, linux, gpu]');
    const [job, secret] = loadAllYaml(stdout) as [V1Job, V1Secret];
    expect(job.metadata?.namespace).toBe('ci');
    expect(job.spec?.template.spec?.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
      accelerator: 'nvidia',
    });
    expect(job.spec?.template.spec?.hostUsers).toBe(false);
    expect(secret.kind).toBe('Secret');
    expect(secret.stringData?.jitconfig).toMatch(/^<redacted/);
  }, 30_000);

  it('applies --mode to the chosen profile', async () => {
    // The example's `default` profile is a standard one: the other mode brings its own default daemon image.
    const { stdout } = await render([
      '--labels',
      'self-hosted',
      '--profiles',
      profiles,
      '--mode',
      'dind-rootless',
    ]);
    const [job] = loadAllYaml(stdout) as [V1Job];
    const daemon = job.spec?.template.spec?.initContainers?.find((container) => container.name === 'dind');
    expect(daemon?.image).toBe(DEFAULT_DIND_ROOTLESS_IMAGE);
  }, 30_000);

  it("shows the image it resolved: GitHub's newest release, read without a credential, with the exit-code variable", async () => {
    github.setRunnerReleases([
      { version: '2.339.0', daysAgo: 31 },
      { version: '2.338.0', daysAgo: 60 },
    ]);
    const { code, stdout } = await render(['--labels', 'self-hosted,linux']);
    expect(code).toBe(0);
    expect(stdout.split('\n')[1]).toBe(
      "# runner image ghcr.io/actions/actions-runner:2.339.0: GitHub's newest release: the profile follows GitHub's releases",
    );
    const [job] = loadAllYaml(stdout) as [V1Job];
    const runner = job.spec?.template.spec?.containers.find((container) => container.name === 'runner');
    expect(runner?.image).toBe('ghcr.io/actions/actions-runner:2.339.0');
    expect(runner?.env).toContainEqual({
      name: 'ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE',
      value: '1',
    });
    const read = github.calls.filter((call) => call.route === 'latestRelease');
    expect(read.length).toBeGreaterThan(0);
    expect(read.every((call) => call.authorization === undefined)).toBe(true);
  }, 30_000);

  it('takes --release without asking GitHub, and says when a profile pins its image', async () => {
    const before = github.calls.length;
    const released = await render(['--labels', 'self-hosted', '--release', 'v2.340.0']);
    expect(released.stdout.split('\n')[1]).toBe(
      "# runner image ghcr.io/actions/actions-runner:2.340.0: --release's: the profile follows GitHub's releases",
    );
    const pinned = await render(['--labels', 'self-hosted'], {
      RUNNER_IMAGE: 'registry.example/runner:2.338.0',
    });
    expect(pinned.stdout.split('\n')[1]).toBe(
      '# runner image registry.example/runner:2.338.0: named by the profile (or RUNNER_IMAGE): pinned',
    );
    expect(github.calls.length).toBe(before);
    expect((await render(['--labels', 'self-hosted', '--release', 'latest'])).code).toBe(2);
  }, 30_000);

  it('prints plain YAML, without anchors and aliases', async () => {
    const { code, stdout } = await render(['--labels', 'self-hosted,linux']);
    expect(code).toBe(0);
    // The default dind-rootless Job holds its labels and its security context twice.
    expect(stdout).not.toMatch(/[&*]ref_\d/);
    const [job] = loadAllYaml(stdout) as [V1Job];
    expect(job.spec?.template.metadata?.labels).toEqual(job.metadata?.labels);
    // The runner pod carries what cost tools aggregate by (issue #30), sanitized, and in full in annotations.
    expect(job.spec?.template.metadata?.labels).toMatchObject({
      'kube-actions-runner.dev/workflow': 'CI___WORKFLOW',
      'kube-actions-runner.dev/job-name': 'build__JOB',
      'kube-actions-runner.dev/run-id': '987654321',
      'kube-actions-runner.dev/run-attempt': '1',
    });
    expect(job.spec?.template.metadata?.annotations).toMatchObject({
      'kube-actions-runner.dev/workflow': 'CI / WORKFLOW',
      'kube-actions-runner.dev/job-name': 'build (JOB)',
    });
  }, 30_000);

  it('needs no GitHub credentials: a wrong or unreadable one in the environment does not stop it', async () => {
    const { code, stdout, stderr } = await render(['--labels', 'self-hosted,linux'], {
      GITHUB_TOKENS: 'garbage',
      GITHUB_APP_ID: 'not-a-number',
      WEBHOOK_SECRET_FILE: '/nonexistent/webhook-secret',
    });
    expect(stderr).toBe('');
    expect(code).toBe(0);
    expect((loadAllYaml(stdout) as [V1Job])[0].kind).toBe('Job');
  }, 30_000);

  it('says so and exits 1 when no profile matches', async () => {
    const { code, stderr } = await render(['--labels', 'ubuntu-latest']);
    expect(code).toBe(1);
    expect(stderr).toContain('no profile serves [ubuntu-latest]');
    expect(stderr).toContain('job labels do not match');
  }, 30_000);

  it("shows the node selection of the job's architecture", async () => {
    const { code, stdout } = await render(['--labels', 'self-hosted,linux,arm64']);
    expect(code).toBe(0);
    const [job] = loadAllYaml(stdout) as [V1Job];
    expect(job.spec?.template.spec?.nodeSelector).toEqual({
      'kubernetes.io/os': 'linux',
      'kubernetes.io/arch': 'arm64',
    });
  }, 30_000);

  it('says why a windows job gets no runner', async () => {
    const { code, stderr } = await render(['--labels', 'self-hosted,windows']);
    expect(code).toBe(1);
    expect(stderr).toContain('job asks for kubernetes.io/os=windows, which the runner images do not run');
  }, 30_000);

  it('refuses an unknown option with the usage, not a stack trace', async () => {
    const { code, stderr, stdout } = await render(['--lables', 'self-hosted']);
    expect(code).toBe(2);
    expect(stderr).toContain("Unknown option '--lables'");
    expect(stderr).toContain('usage: npm run render');
    expect(stderr).not.toContain('    at ');
    expect(stdout).toBe('');
  }, 30_000);

  it('exits quietly when its reader stops early (`| head`), without a stack trace', async () => {
    const child = spawn(tsx, [script, '--labels', 'self-hosted,linux'], {
      env: { PATH: process.env.PATH ?? '', GITHUB_API_URL: github.url },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    // The reading end closed before anything is written: the first write meets EPIPE.
    child.stdout.destroy();
    let stderr = '';
    child.stderr.on('data', (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.once('close', resolve));
    expect(stderr).toBe('');
    expect(code).toBe(0);
  }, 30_000);
});
