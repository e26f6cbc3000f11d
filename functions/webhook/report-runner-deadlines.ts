import { compareVersions, runnerVersionOf, versionDeadline } from '../../shared/config/runner-version.js';
import { releaseTarget } from '../../shared/github/runner-releases.js';
import type { HandlerDeps } from './deps.js';

/**
 * Sets `runner_version_deadline_timestamp_seconds{profile}`: for each pinned profile whose runner version is older
 * than GitHub's newest release, when GitHub stops sending it jobs (30 days after the first newer release), so that
 * `KubeActionsRunnerVersionDeadline` fires 10 days before. Profiles that follow releases have none. Run by each full
 * reconcile pass (every 4 minutes), so an install no job reaches still reports it; GitHub's releases are read with
 * the credential of a configured repository or owner (`releaseTarget`). When GitHub's newest cannot be read, the
 * last report stands. Never throws.
 */
export async function reportRunnerDeadlines(deps: HandlerDeps): Promise<void> {
  const { runnerReleases, metrics, config } = deps;
  if (runnerReleases === undefined) return;
  const pinned = config.profiles.flatMap((profile) => {
    const version = profile.followsReleases ? undefined : runnerVersionOf(profile.image);
    return version === undefined ? [] : [{ profile: profile.name, version }];
  });
  if (pinned.length === 0) {
    metrics.runnerVersionDeadlines.set([]);
    return;
  }
  const target = releaseTarget(config);
  const newest = await runnerReleases.newest(target);
  if (newest === undefined) return;
  const behind = pinned.filter(({ version }) => compareVersions(version, newest.version) < 0);
  // The first release newer than a version may be older than the newest: the list says which, when it can be read.
  const releases = behind.length === 0 ? [] : [...((await runnerReleases.releases(target)) ?? []), newest];
  metrics.runnerVersionDeadlines.set(
    behind.flatMap(({ profile, version }) => {
      const at = versionDeadline(version, releases);
      return at === undefined ? [] : [{ profile, seconds: Math.floor(at / 1000) }];
    }),
  );
}
