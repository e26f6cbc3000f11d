import type { Config } from '../config/load-config.js';
import {
  compareVersions,
  EXIT_CODE_RUNNER_VERSION,
  MINIMUM_RUNNER_VERSION,
  RUNNER_GRACE_DAYS,
  runnerVersionOf,
} from '../config/runner-version.js';
import { type Check, fail, pass, warn } from './check.js';

/** What GitHub does with a version that is not the newest: the 30-day rule, in one sentence. */
const GRACE_RULE = `GitHub sends jobs to a runner release until ${RUNNER_GRACE_DAYS} days after the next one (then it exits 7 and is not replaced)`;

/** Where to find releases, and what to pin. */
const RELEASES = 'https://github.com/actions/runner/releases';

/**
 * For each profile, the runner release its image runs (read from the tag), judged against GitHub's rules
 * (`runner-version.ts`): below the registration minimum fails; below the first release that exits 7 when
 * refused, or a tag that does not say, warns; otherwise it passes and states the 30-day rule.
 */
export function runnerVersionChecks(config: Config): Check[] {
  return config.profiles.map((profile) => ({
    group: 'function',
    check: `runner version of profile ${profile.name}`,
    async run() {
      const version = runnerVersionOf(profile.image);
      if (version === undefined) {
        return warn(
          `${profile.image}: its tag names no runner release, so its version cannot be judged`,
          `tag the image with the runner release it runs (2.N.N, ${RELEASES}); ${GRACE_RULE}`,
        );
      }
      if (compareVersions(version, MINIMUM_RUNNER_VERSION) < 0) {
        return fail(
          `runner ${version} (${profile.image}) is older than ${MINIMUM_RUNNER_VERSION}: GitHub refuses to register it`,
          `pin an image of the newest release (${RELEASES}) or unset the profile's image (RUNNER_IMAGE)`,
        );
      }
      if (compareVersions(version, EXIT_CODE_RUNNER_VERSION) < 0) {
        return warn(
          `runner ${version} (${profile.image}) exits 0, not 7, when GitHub refuses its version: a refused runner looks like one that ran its job`,
          `pin ${EXIT_CODE_RUNNER_VERSION} or newer (${RELEASES}); ${GRACE_RULE}`,
        );
      }
      return pass(`runner ${version} (${profile.image}); ${GRACE_RULE}: keep it to the newest release`);
    },
  }));
}
