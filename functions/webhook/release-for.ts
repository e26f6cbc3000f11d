import type { RepoRef } from '../../shared/github/github-client.js';
import type { RunnerProfile } from '../../shared/profiles/runner-profile.js';
import type { HandlerDeps } from './deps.js';

/**
 * The runner release a new runner Job of `profile` runs: for a profile that follows GitHub's releases, the one
 * `runnerReleases` follows (read with the credential of `target`, the job's repository, waiting ~2 s at most);
 * undefined for a profile that pins its image, which `runnerImageOf` then runs as it is.
 */
export async function releaseFor(
  deps: HandlerDeps,
  profile: RunnerProfile,
  target: RepoRef,
): Promise<string | undefined> {
  if (!profile.followsReleases) return undefined;
  return deps.runnerReleases?.followed(target);
}
