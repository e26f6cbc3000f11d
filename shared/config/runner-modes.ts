/** The four ways a runner pod can be built; see `shared/modes/`. */
export const RUNNER_MODES = ['standard', 'userns', 'dind', 'dind-rootless'] as const;
export type RunnerMode = (typeof RUNNER_MODES)[number];

/**
 * GitHub's official runner image (built from actions/runner `images/Dockerfile` by its release workflow, tagged with
 * each release's version: https://github.com/actions/runner/releases).
 */
export const OFFICIAL_RUNNER_IMAGE = 'ghcr.io/actions/actions-runner';

/**
 * The runner release the default image runs when GitHub's newest is not known (no answer yet, or none within the
 * time a delivery may wait): profiles that name no image follow GitHub's releases (`runnerImageOf`), so this only
 * needs a bump when it falls so far behind that a cold start with GitHub unreachable would start a refused runner.
 */
export const PINNED_RUNNER_VERSION = '2.338.0';

/** The official image of a runner release (`2.339.0`). */
export function officialRunnerImage(version: string): string {
  return `${OFFICIAL_RUNNER_IMAGE}:${version}`;
}

/** The official image of the pinned release: what a profile that follows GitHub's releases runs until one is known. */
export const DEFAULT_RUNNER_IMAGE = officialRunnerImage(PINNED_RUNNER_VERSION);

/**
 * Docker's official daemon images (docker-library/docker: `29/dind`, `29/dind-rootless`), pinned to one Docker
 * Engine release. `dind` runs a rootful daemon, `dind-rootless` the same daemon under RootlessKit as uid 1000.
 */
export const DEFAULT_DIND_IMAGE = 'docker:29.9.0-dind';
export const DEFAULT_DIND_ROOTLESS_IMAGE = 'docker:29.9.0-dind-rootless';

/** The runner image each mode uses unless `RUNNER_IMAGE` or a profile's `image` overrides it. */
export const DEFAULT_RUNNER_IMAGES: Readonly<Record<RunnerMode, string>> = {
  standard: DEFAULT_RUNNER_IMAGE,
  userns: DEFAULT_RUNNER_IMAGE,
  dind: DEFAULT_RUNNER_IMAGE,
  'dind-rootless': DEFAULT_RUNNER_IMAGE,
};

/**
 * The Docker daemon image each mode uses unless `DIND_IMAGE` or a profile's `dindImage` overrides it. The modes
 * without Docker carry the rootful image only so that every profile has one; their pods never use it.
 */
export const DEFAULT_DIND_IMAGES: Readonly<Record<RunnerMode, string>> = {
  standard: DEFAULT_DIND_IMAGE,
  userns: DEFAULT_DIND_IMAGE,
  dind: DEFAULT_DIND_IMAGE,
  'dind-rootless': DEFAULT_DIND_ROOTLESS_IMAGE,
};
