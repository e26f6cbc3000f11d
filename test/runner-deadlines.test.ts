/**
 * `runner_version_deadline_timestamp_seconds{profile}`, reported by each full reconcile pass: for pinned profiles
 * older than GitHub's newest release, 30 days after the first newer one (what `KubeActionsRunnerVersionDeadline`
 * alerts on 10 days before). Profiles that follow releases, and pinned ones at the newest, have no series.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AppHarness, startAppHarness } from './support/app-harness.js';

const TOKEN = 'reconcile-token-0123';
const DAY_S = 24 * 3600;
let h: AppHarness | undefined;
afterEach(async () => {
  expect(h?.github.violations ?? []).toEqual([]);
  await h?.close();
  h = undefined;
});

const PROFILES = [
  'profiles:',
  '  - { name: pinned, match: pinned, image: "ghcr.io/actions/actions-runner:2.338.0" }',
  '  - { name: mirror, match: mirror, image: "registry.example/actions-runner:2.339.0" }',
  '  - { name: default }',
].join('\n');

async function deadlinesAfterReconcile(harness: AppHarness, scope = '') {
  const answer = await harness.app.request(`/reconcile${scope}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(answer.status).toBe(200);
  const text = await (await harness.app.request('/metrics')).text();
  return [...text.matchAll(/^runner_version_deadline_timestamp_seconds\{profile="([^"]+)"\} (\d+)$/gm)].map(
    ([, profile, seconds]) => [profile, Number(seconds)] as const,
  );
}

describe('runner version deadlines', () => {
  it('reports each pinned profile older than the newest, dated from the first newer release', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN, RUNNER_PROFILES: PROFILES });
    h.github.setRunnerReleases([
      { version: '2.340.0', daysAgo: 2 },
      { version: '2.339.0', daysAgo: 25 },
      { version: '2.338.0', daysAgo: 60 },
    ]);
    // A records-only pass (the cheap one a backlog calls every minute) reads no release.
    expect(await deadlinesAfterReconcile(h, '?scope=records')).toEqual([]);
    const deadlines = await deadlinesAfterReconcile(h);
    expect(deadlines.map(([profile]) => profile)).toEqual(['pinned', 'mirror']);
    const expected = { pinned: 5 * DAY_S, mirror: 28 * DAY_S };
    for (const [profile, seconds] of deadlines) {
      const inSeconds = seconds - Date.now() / 1000;
      expect(Math.abs(inSeconds - expected[profile as keyof typeof expected])).toBeLessThan(60);
    }
  });

  it('drops a profile once it runs the newest release', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN, RUNNER_PROFILES: PROFILES });
    h.github.setRunnerReleases([{ version: '2.339.0', daysAgo: 25 }]);
    expect((await deadlinesAfterReconcile(h)).map(([profile]) => profile)).toEqual(['pinned']);
  });

  it('reports none when every profile follows the releases, and reads no release for it', async () => {
    h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
    h.github.setRunnerReleases([{ version: '2.339.0', daysAgo: 25 }]);
    expect(await deadlinesAfterReconcile(h)).toEqual([]);
    expect(h.github.calls.some((call) => call.route === 'latestRelease')).toBe(false);
  });
});
