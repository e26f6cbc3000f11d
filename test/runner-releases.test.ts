/**
 * Following GitHub's runner releases: read from the GitHub stand-in (GitHub's routes, bodies and ETags, held to its
 * published contract), kept for an hour and asked again conditionally (304), never waited for past ~2 s, and on
 * failure the last release known or the pinned one, counted. A profile that follows releases runs the newest; a
 * profile that names an image keeps it.
 */
import { afterEach, describe, expect, it, vi } from 'vitest';
import { PINNED_RUNNER_VERSION } from '../shared/config/runner-modes.js';
import { createTokenCredentials } from '../shared/github/credentials.js';
import { createGitHubClient } from '../shared/github/github-client.js';
import { createRunnerReleases, type RunnerReleasesOptions } from '../shared/github/runner-releases.js';
import { parseProfiles } from '../shared/profiles/parse-profiles.js';
import { type RunnerProfile, runnerImageOf } from '../shared/profiles/runner-profile.js';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, addQueuedJob, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

const HOUR = 3600_000;
const TOKEN = 'github_pat_releases';
const REPO = { owner: 'octo-org', repo: 'app' };

let github: GitHubStandIn | undefined;
let h: AppHarness | undefined;
afterEach(async () => {
  for (const standIn of [github, h?.github]) expect(standIn?.violations ?? []).toEqual([]);
  await github?.close();
  await h?.close();
  github = undefined;
  h = undefined;
});

/** Releases read from a fresh stand-in through the real client, on a clock the test moves. */
async function releasesOf(options: Partial<RunnerReleasesOptions> = {}) {
  github = await startGitHubStandIn({ pats: { [TOKEN]: 'octo-org' } });
  const client = createGitHubClient({
    baseUrl: github.url,
    credentials: createTokenCredentials(new Map([['octo-org', TOKEN]])),
  });
  const clock = { at: Date.now() };
  const failures: unknown[] = [];
  const releases = createRunnerReleases({
    github: client,
    now: () => clock.at,
    onFailure: (error) => failures.push(error),
    ...options,
  });
  return { standIn: github, releases, clock, failures };
}

const releaseCalls = (standIn: GitHubStandIn) =>
  standIn.calls.filter((call) => call.route === 'latestRelease' || call.route === 'releases');

describe('GitHub runner releases', () => {
  it("follows GitHub's newest release, read once an hour with the repository's credential", async () => {
    const { standIn, releases } = await releasesOf();
    standIn.setRunnerReleases([
      { version: '2.339.0', daysAgo: 31 },
      { version: '2.338.0', daysAgo: 60 },
    ]);
    expect(await releases.followed(REPO)).toBe('2.339.0');
    expect(await releases.followed(REPO)).toBe('2.339.0');
    expect(releaseCalls(standIn)).toMatchObject([
      { route: 'latestRelease', status: 200, authorization: `token ${TOKEN}` },
    ]);
    expect((await releases.newest(REPO))?.version).toBe('2.339.0');
  });

  it('asks again after an hour with If-None-Match: a 304 keeps the release, a new ETag brings the next one', async () => {
    const { standIn, releases, clock } = await releasesOf();
    standIn.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    expect(await releases.followed(REPO)).toBe('2.339.0');
    clock.at += HOUR + 1;
    // The hour-old answer is used at once while it is read again.
    expect(await releases.followed(REPO)).toBe('2.339.0');
    await vi.waitFor(() => expect(releaseCalls(standIn).at(-1)?.status).toBe(304));
    standIn.setRunnerReleases([
      { version: '2.340.0', daysAgo: 1 },
      { version: '2.339.0', daysAgo: 31 },
    ]);
    clock.at += HOUR + 1;
    // Asked again once the 304 read is done (the stand-in records a call before its answer arrives).
    await vi.waitFor(async () => {
      await releases.followed(REPO);
      expect(releaseCalls(standIn)).toHaveLength(3);
    });
    expect(releaseCalls(standIn).map((call) => call.status)).toEqual([200, 304, 200]);
    expect(await releases.followed(REPO)).toBe('2.340.0');
  });

  it('waits two hours before following a release whose image may not be pushed yet', async () => {
    const { standIn, releases } = await releasesOf();
    standIn.setRunnerReleases([
      { version: '2.340.0', daysAgo: 0.01 },
      { version: '2.339.0', daysAgo: 31 },
    ]);
    expect(await releases.followed(REPO)).toBe('2.339.0');
    expect(releaseCalls(standIn).map((call) => call.route)).toEqual(['latestRelease', 'releases']);
  });

  it('falls back to the pinned release when GitHub fails, counts it, and asks again a minute later', async () => {
    const { standIn, releases, clock, failures } = await releasesOf();
    standIn.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    standIn.failNext('latestRelease', 401, 1);
    expect(await releases.followed(REPO)).toBe(PINNED_RUNNER_VERSION);
    expect(failures).toHaveLength(1);
    // Within the minute, no delivery waits for GitHub again.
    expect(await releases.followed(REPO)).toBe(PINNED_RUNNER_VERSION);
    expect(releaseCalls(standIn)).toHaveLength(1);
    clock.at += 60_001;
    expect(await releases.followed(REPO)).toBe('2.339.0');
  });

  it('asks again only an hour later after an answer asking again cannot change (404)', async () => {
    const { standIn, releases, clock, failures } = await releasesOf();
    standIn.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    standIn.failNext('latestRelease', 404, 1);
    expect(await releases.followed(REPO)).toBe(PINNED_RUNNER_VERSION);
    clock.at += 60_001;
    expect(await releases.followed(REPO)).toBe(PINNED_RUNNER_VERSION);
    expect(failures).toHaveLength(1);
    clock.at += HOUR;
    expect(await releases.followed(REPO)).toBe('2.339.0');
    expect(releaseCalls(standIn)).toHaveLength(2);
  });

  it('keeps the last release known when a later read fails', async () => {
    const { standIn, releases, clock, failures } = await releasesOf();
    standIn.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    expect(await releases.followed(REPO)).toBe('2.339.0');
    standIn.failNext('latestRelease', 404, 1);
    clock.at += HOUR + 1;
    expect(await releases.followed(REPO)).toBe('2.339.0');
    await vi.waitFor(() => expect(failures).toHaveLength(1));
    expect(await releases.followed(REPO)).toBe('2.339.0');
  });

  it('never holds a caller past its lookup time: a slow GitHub leaves the pinned release', async () => {
    const { standIn, releases, failures } = await releasesOf({ lookupMs: 150 });
    standIn.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    standIn.inject('latestRelease', { delayMs: 2000 });
    const started = Date.now();
    expect(await releases.followed(REPO)).toBe(PINNED_RUNNER_VERSION);
    expect(Date.now() - started).toBeLessThan(1000);
    await vi.waitFor(() => expect(failures).toHaveLength(1));
  });

  it('reads without a credential when it has none for the call, as GitHub allows for public releases', async () => {
    const { standIn, releases } = await releasesOf();
    standIn.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    expect(await releases.followed()).toBe('2.339.0');
    expect(releaseCalls(standIn)[0]?.authorization).toBeUndefined();
  });
});

describe('which profiles follow the releases', () => {
  const file = [
    'profiles:',
    '  - name: pinned',
    '    match: pinned',
    '    image: registry.example/runner:2.338.0',
    '  - name: default',
  ].join('\n');

  it('those that name no image, unless RUNNER_IMAGE names one for all', () => {
    const [pinned, followed] = parseProfiles(file, {
      mode: 'standard',
      image: undefined,
      dindImage: undefined,
    }) as [RunnerProfile, RunnerProfile];
    expect([pinned.followsReleases, followed.followsReleases]).toEqual([false, true]);
    expect(runnerImageOf(pinned, '2.339.0')).toBe('registry.example/runner:2.338.0');
    expect(runnerImageOf(followed, '2.339.0')).toBe('ghcr.io/actions/actions-runner:2.339.0');
    expect(runnerImageOf(followed, undefined)).toBe(
      `ghcr.io/actions/actions-runner:${PINNED_RUNNER_VERSION}`,
    );
    const all = parseProfiles(file, {
      mode: 'standard',
      image: 'registry.example/r:1',
      dindImage: undefined,
    });
    expect(all.map((profile) => profile.followsReleases)).toEqual([false, false]);
  });
});

async function deliverQueued(harness: AppHarness, jobId: number) {
  const payload = addQueuedJob(harness, { jobId });
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  const response = await harness.app.request('/webhook', { method: 'POST', headers, body });
  expect(await response.json()).toMatchObject({ outcome: 'created' });
  return (await harness.records.getRecord(`runner-${jobId}`))?.runnerImage;
}

describe('the runner image of a delivery', () => {
  it('moves the default image to a newer release of 31 days ago', async () => {
    h = await startAppHarness();
    h.github.setRunnerReleases([
      { version: '2.339.0', daysAgo: 31 },
      { version: '2.338.0', daysAgo: 60 },
    ]);
    expect(await deliverQueued(h, 1)).toBe('ghcr.io/actions/actions-runner:2.339.0');
  });

  it('keeps an image pinned with RUNNER_IMAGE, and reads no release for it', async () => {
    h = await startAppHarness({ RUNNER_IMAGE: 'ghcr.io/actions/actions-runner:2.338.0' });
    h.github.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    expect(await deliverQueued(h, 2)).toBe('ghcr.io/actions/actions-runner:2.338.0');
    expect(h.github.calls.some((call) => call.route === 'latestRelease')).toBe(false);
  });

  it('runs the pinned release when the lookup fails, and counts runner_release_lookup_failures_total', async () => {
    h = await startAppHarness();
    h.github.setRunnerReleases([{ version: '2.339.0', daysAgo: 31 }]);
    h.github.failNext('latestRelease', 404, 1);
    expect(await deliverQueued(h, 3)).toBe(`ghcr.io/actions/actions-runner:${PINNED_RUNNER_VERSION}`);
    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toContain('runner_release_lookup_failures_total 1');
  });
});
