/**
 * The runner release an image runs (read from its tag) and doctor's judgement of it against GitHub's rules:
 * below 2.329.0 GitHub refuses to register it (✗); below 2.333.0 it cannot exit 7 when refused (!); and with
 * GitHub's releases (the stand-in's), the date GitHub stops sending it jobs: ✗ past it, ! within 10 days.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/load-config.js';
import { DEFAULT_RUNNER_IMAGE } from '../shared/config/runner-modes.js';
import { compareVersions, MINIMUM_RUNNER_VERSION, runnerVersionOf } from '../shared/config/runner-version.js';
import { runChecks } from '../shared/doctor/check.js';
import { functionChecks } from '../shared/doctor/function-checks.js';
import { runDoctor } from '../shared/doctor/run-doctor.js';
import { KubeConfigError } from '../shared/kubernetes/kube-connection.js';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';

describe('runnerVersionOf', () => {
  it.each([
    ['ghcr.io/actions/actions-runner:2.338.0', '2.338.0'],
    ['ghcr.io/actions/actions-runner:v2.329.1', '2.329.1'],
    ['registry.local:5000/actions-runner:2.333.0-ubuntu-24.04', '2.333.0'],
    ['ghcr.io/actions/actions-runner:2.338.0@sha256:0123abcd', '2.338.0'],
    ['ghcr.io/actions/actions-runner@sha256:0123abcd', undefined],
    ['registry.local:5000/actions-runner', undefined],
    ['ghcr.io/actions/actions-runner:latest', undefined],
    ['ghcr.io/actions/actions-runner:2.338', undefined],
    ['ghcr.io/actions/actions-runner:12.338.0x', undefined],
  ])('%s -> %s', (image, version) => {
    expect(runnerVersionOf(image)).toBe(version);
  });

  it('orders versions by number, not text', () => {
    expect(compareVersions('2.329.0', '2.99.9')).toBeGreaterThan(0);
    expect(compareVersions('2.328.9', MINIMUM_RUNNER_VERSION)).toBeLessThan(0);
    expect(compareVersions('2.329.0', MINIMUM_RUNNER_VERSION)).toBe(0);
  });
});

async function versionRows(env: Record<string, string>) {
  const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', RUNNER_MODE: 'standard', ...env });
  const rows = await runChecks(functionChecks({ config }), 1000);
  return rows.filter((row) => row.check.startsWith('runner version of profile'));
}

describe('doctor: the runner version of each profile', () => {
  it('passes the pinned default, naming the version and the 30-day rule', async () => {
    const [row] = await versionRows({});
    expect(row).toMatchObject({ status: 'pass', check: 'runner version of profile default' });
    expect(row?.seen).toContain(`runner ${runnerVersionOf(DEFAULT_RUNNER_IMAGE)} (${DEFAULT_RUNNER_IMAGE})`);
    expect(row?.seen).toContain('until 30 days after the next one');
  });

  it('fails a version below GitHub registration minimum, 2.329.0', async () => {
    const [row] = await versionRows({ RUNNER_IMAGE: 'ghcr.io/actions/actions-runner:2.328.0' });
    expect(row).toMatchObject({ status: 'fail' });
    expect(row?.seen).toContain('older than 2.329.0: GitHub refuses to register it');
    expect(row?.fix).toContain('https://github.com/actions/runner/releases');
  });

  it('warns on a version that exits 0, not 7, when refused (before 2.333.0)', async () => {
    const [row] = await versionRows({ RUNNER_IMAGE: 'ghcr.io/actions/actions-runner:2.332.0' });
    expect(row).toMatchObject({ status: 'warn' });
    expect(row?.seen).toContain('exits 0, not 7');
  });

  it('warns on an image whose tag names no release', async () => {
    const [row] = await versionRows({ RUNNER_IMAGE: 'registry.local/runner@sha256:0123abcd' });
    expect(row).toMatchObject({ status: 'warn' });
    expect(row?.seen).toContain('its tag names no runner release');
  });
});

describe("doctor: each profile's runner version against GitHub's releases", () => {
  let github: GitHubStandIn | undefined;
  afterEach(async () => {
    expect(github?.violations ?? []).toEqual([]);
    await github?.close();
    github = undefined;
  });

  /** doctor as `npm run doctor` runs it, against a GitHub stand-in with these releases. */
  async function doctorRows(releases: Parameters<GitHubStandIn['setRunnerReleases']>[0], env = {}) {
    github = await startGitHubStandIn({ token: 't0ken-of-the-doctor' });
    github.setRunnerReleases(releases);
    const results = await runDoctor({
      env: {
        WEBHOOK_SECRET: 's',
        GITHUB_TOKEN: 't0ken-of-the-doctor',
        GITHUB_API_URL: github.url,
        RUNNER_PROFILES: [
          'profiles:',
          '  - { name: pinned, match: pinned, mode: standard, image: "ghcr.io/actions/actions-runner:2.338.0" }',
          '  - { name: default, mode: standard }',
        ].join('\n'),
        ...env,
      },
      fetch,
      connect: () => {
        throw new KubeConfigError('no Kubernetes credentials found');
      },
      timeoutMs: 5000,
    });
    return new Map(results.map((row) => [row.check, row]));
  }

  it('a newer release 31 days ago: ✗ for the pinned profile, and the default image moves to it', async () => {
    const rows = await doctorRows([
      { version: '2.339.0', daysAgo: 31 },
      { version: '2.338.0', daysAgo: 70 },
    ]);
    const pinned = rows.get('runner version of profile pinned');
    expect(pinned).toMatchObject({ status: 'fail' });
    expect(pinned?.seen).toContain(
      "runner 2.338.0 (ghcr.io/actions/actions-runner:2.338.0, pinned); GitHub's newest 2.339.0",
    );
    expect(pinned?.seen).toContain('GitHub stopped sending it jobs on');
    expect(pinned?.fix).toContain('pin ghcr.io/actions/actions-runner:2.339.0');
    const followed = rows.get('runner version of profile default');
    expect(followed).toMatchObject({ status: 'pass' });
    expect(followed?.seen).toContain("(ghcr.io/actions/actions-runner:2.339.0, follows GitHub's releases)");
    expect(rows.get('a job on [self-hosted]')?.seen).toBe(
      'profile default (standard): ghcr.io/actions/actions-runner:2.339.0',
    );
  });

  it('warns within 10 days of the deadline, and dates it from the first newer release', async () => {
    const soon = await doctorRows([{ version: '2.339.0', daysAgo: 25 }]);
    expect(soon.get('runner version of profile pinned')).toMatchObject({ status: 'warn' });
    expect(soon.get('runner version of profile pinned')?.seen).toMatch(
      /stops sending it jobs on .*, in 5 day/,
    );
    await github?.close();
    github = undefined;
    // The newest is 10 days old, but 2.339.0 came 45 days ago: 2.338.0 is past its deadline.
    const past = await doctorRows([
      { version: '2.340.0', daysAgo: 10 },
      { version: '2.339.0', daysAgo: 45 },
    ]);
    expect(past.get('runner version of profile pinned')).toMatchObject({ status: 'fail' });
  });

  it('passes a version whose deadline is more than 10 days away, and the newest itself', async () => {
    const rows = await doctorRows([{ version: '2.339.0', daysAgo: 5 }]);
    expect(rows.get('runner version of profile pinned')).toMatchObject({ status: 'pass' });
    expect(rows.get('runner version of profile pinned')?.seen).toContain('GitHub sends it jobs until');
    expect(rows.get('runner version of profile default')?.seen).toContain('it is the newest');
  });

  it("warns when GitHub's releases cannot be read", async () => {
    github = await startGitHubStandIn({ token: 't0ken-of-the-doctor' });
    github.failNext('latestRelease', 404, 5);
    github.failNext('releases', 404, 5);
    const results = await runDoctor({
      env: { WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't0ken-of-the-doctor', GITHUB_API_URL: github.url },
      fetch,
      connect: () => {
        throw new KubeConfigError('no Kubernetes credentials found');
      },
      timeoutMs: 5000,
    });
    const row = results.find((result) => result.check === 'runner version of profile default');
    expect(row).toMatchObject({ status: 'warn' });
    expect(row?.seen).toContain("GitHub's newest release could not be read");
  });
});
