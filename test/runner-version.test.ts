/**
 * The runner release an image runs (read from its tag) and doctor's judgement of it against GitHub's rules:
 * below 2.329.0 GitHub refuses to register it (✗); below 2.333.0 it cannot exit 7 when refused (!).
 */
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/load-config.js';
import { DEFAULT_RUNNER_IMAGE } from '../shared/config/runner-modes.js';
import { compareVersions, MINIMUM_RUNNER_VERSION, runnerVersionOf } from '../shared/config/runner-version.js';
import { runChecks } from '../shared/doctor/check.js';
import { functionChecks } from '../shared/doctor/function-checks.js';

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
