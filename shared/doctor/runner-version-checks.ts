import type { Config } from '../config/load-config.js';
import { officialRunnerImage } from '../config/runner-modes.js';
import {
  compareVersions,
  DEADLINE_WARNING_DAYS,
  EXIT_CODE_RUNNER_VERSION,
  MINIMUM_RUNNER_VERSION,
  RUNNER_GRACE_DAYS,
  type RunnerRelease,
  runnerVersionOf,
  versionDeadline,
} from '../config/runner-version.js';
import type { RunnerReleases } from '../github/runner-releases.js';
import { type RunnerProfile, runnerImageOf } from '../profiles/runner-profile.js';
import { type Check, type Finding, fail, pass, warn } from './check.js';

/** What GitHub does with a version that is not the newest: the 30-day rule, in one sentence. */
const GRACE_RULE = `GitHub sends jobs to a runner release until ${RUNNER_GRACE_DAYS} days after the next one (then it exits 7 and is not replaced)`;

/** Where to find releases, and what to pin. */
const RELEASES = 'https://github.com/actions/runner/releases';

const DAY_MS = 24 * 3600 * 1000;

/** A date as the table shows it: `2026-09-25`. */
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10);

/**
 * For each profile, the runner release its image runs (read from the tag; for a profile that follows GitHub's
 * releases, the one it would run now), judged against GitHub's rules (`runner-version.ts`): below the registration
 * minimum fails; below the first release that exits 7 when refused, or a tag that does not say, warns. With
 * GitHub's releases (`releases`; without them, only those rules), the date GitHub stops sending it jobs, 30 days
 * after the first newer release: past it fails (✗), within 10 days warns (!), otherwise it passes.
 */
export function runnerVersionChecks(
  config: Config,
  releases?: RunnerReleases,
  now: () => number = Date.now,
): Check[] {
  return config.profiles.map((profile) => ({
    group: 'function',
    check: `runner version of profile ${profile.name}`,
    async run() {
      const follows = profile.followsReleases && releases !== undefined;
      const image = runnerImageOf(profile, follows ? await releases.followed() : undefined);
      const version = runnerVersionOf(image);
      if (version === undefined) {
        return warn(
          `${image}: its tag names no runner release, so its version cannot be judged`,
          `tag the image with the runner release it runs (2.N.N, ${RELEASES}); ${GRACE_RULE}`,
        );
      }
      if (compareVersions(version, MINIMUM_RUNNER_VERSION) < 0) {
        return fail(
          `runner ${version} (${image}) is older than ${MINIMUM_RUNNER_VERSION}: GitHub refuses to register it`,
          `pin an image of the newest release (${RELEASES}) or unset the profile's image (RUNNER_IMAGE)`,
        );
      }
      if (compareVersions(version, EXIT_CODE_RUNNER_VERSION) < 0) {
        return warn(
          `runner ${version} (${image}) exits 0, not 7, when GitHub refuses its version: a refused runner looks like one that ran its job`,
          `pin ${EXIT_CODE_RUNNER_VERSION} or newer (${RELEASES}); ${GRACE_RULE}`,
        );
      }
      if (releases === undefined) {
        return pass(`runner ${version} (${image}); ${GRACE_RULE}: keep it to the newest release`);
      }
      return judgeDeadline(profile, version, image, releases, now());
    },
  }));
}

/** The runner version against GitHub's releases: the newest, and when GitHub stops sending this one jobs. */
async function judgeDeadline(
  profile: RunnerProfile,
  version: string,
  image: string,
  releases: RunnerReleases,
  at: number,
): Promise<Finding> {
  const [newest, list] = await Promise.all([releases.newest(), releases.releases()]);
  const how = profile.followsReleases ? "follows GitHub's releases" : 'pinned';
  if (newest === undefined && list === undefined) {
    return warn(
      `runner ${version} (${image}, ${how}); GitHub's newest release could not be read`,
      `check GITHUB_API_URL, the proxy and the credentials (the function reads the same: runner_release_lookup_failures_total); ${GRACE_RULE}`,
    );
  }
  const known: RunnerRelease[] = [...(list ?? []), ...(newest === undefined ? [] : [newest])];
  const top = known.reduce((a, b) => (compareVersions(b.version, a.version) > 0 ? b : a));
  const seen = `runner ${version} (${image}, ${how}); GitHub's newest ${top.version} of ${day(top.publishedAt)}`;
  const deadline = versionDeadline(version, known);
  if (deadline === undefined) return pass(`${seen}: it is the newest`);
  const fix = profile.followsReleases
    ? "the function cannot read GitHub's releases (runner_release_lookup_failures_total): check GITHUB_API_URL, the proxy and the credentials"
    : `pin ${officialRunnerImage(top.version)} (the profile's image, or RUNNER_IMAGE), or unset it to follow GitHub's releases`;
  if (deadline <= at) {
    return fail(`${seen}: GitHub stopped sending it jobs on ${day(deadline)} (its runners exit 7)`, fix);
  }
  if (deadline - at <= DEADLINE_WARNING_DAYS * DAY_MS) {
    const days = Math.ceil((deadline - at) / DAY_MS);
    return warn(`${seen}: GitHub stops sending it jobs on ${day(deadline)}, in ${days} day(s)`, fix);
  }
  return pass(`${seen}: GitHub sends it jobs until ${day(deadline)}`);
}
