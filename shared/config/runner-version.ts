/**
 * GitHub's rules for self-hosted runner versions (GitHub changelog 2026-06-12, "minimum version enforcement
 * timeline for self-hosted runners"; enforced since 2026-09-25):
 * - a runner older than `MINIMUM_RUNNER_VERSION` cannot register;
 * - a runner keeps receiving jobs only while its release is at most `RUNNER_GRACE_DAYS` days older than GitHub's
 *   newest release: 30 days after the next release, GitHub refuses it ("Runner version vX is deprecated and cannot
 *   receive messages"), and it exits 7 (`VERSION_DEPRECATED_EXIT_CODE`, from 2.333.0 on).
 */

/** The oldest runner release GitHub lets register. */
export const MINIMUM_RUNNER_VERSION = '2.329.0';

/** The first runner release that exits 7 when GitHub refuses its version (actions/runner#4285). */
export const EXIT_CODE_RUNNER_VERSION = '2.333.0';

/** Days after a newer release during which GitHub still sends jobs to a runner of the older one. */
export const RUNNER_GRACE_DAYS = 30;

/**
 * The runner release an image runs, read from its tag: `ghcr.io/actions/actions-runner:2.338.0` (or `v2.338.0`, or
 * a tag that starts with the version, `2.338.0-ubuntu`). Undefined when the tag does not say (a digest, `latest`, a
 * tag of one's own).
 */
export function runnerVersionOf(image: string): string | undefined {
  const reference = image.split('@')[0] ?? '';
  const slash = reference.lastIndexOf('/');
  const colon = reference.lastIndexOf(':');
  if (colon <= slash) return undefined;
  const match = /^v?(\d+\.\d+\.\d+)(?:$|[-+])/.exec(reference.slice(colon + 1));
  return match?.[1];
}

/** Compares two `major.minor.patch` versions: negative when `a` is older, 0 when equal, positive when newer. */
export function compareVersions(a: string, b: string): number {
  const [pa, pb] = [a, b].map((version) => version.split('.').map(Number));
  for (let i = 0; i < 3; i += 1) {
    const difference = (pa?.[i] ?? 0) - (pb?.[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/** Days before GitHub's deadline from which `doctor` warns (!) and the alert `KubeActionsRunnerVersionDeadline` fires. */
export const DEADLINE_WARNING_DAYS = 10;

const DAY_MS = 24 * 3600 * 1000;

/** A runner release as GitHub publishes it: its version (`2.339.0`, the tag without its `v`) and when. */
export interface RunnerRelease {
  readonly version: string;
  /** `published_at`, ms since the epoch. */
  readonly publishedAt: number;
}

/**
 * The version a release tag names (`v2.339.0` or `2.339.0`), strictly `major.minor.patch` with nothing around it:
 * undefined for anything else. The version becomes an image tag, so nothing GitHub did not mean may pass.
 */
export function versionOfTag(tag: unknown): string | undefined {
  if (typeof tag !== 'string') return undefined;
  return /^v?(\d{1,9}\.\d{1,9}\.\d{1,9})$/.exec(tag)?.[1];
}

/**
 * When GitHub stops sending jobs to runners of `version` (ms since the epoch): `RUNNER_GRACE_DAYS` after the first
 * release newer than it was published (the earliest, should a patch of an older line come out later). Undefined
 * when none of `releases` is newer: it is the newest, as far as they go.
 */
export function versionDeadline(version: string, releases: readonly RunnerRelease[]): number | undefined {
  const newer = releases.filter((release) => compareVersions(release.version, version) > 0);
  if (newer.length === 0) return undefined;
  return Math.min(...newer.map((release) => release.publishedAt)) + RUNNER_GRACE_DAYS * DAY_MS;
}
