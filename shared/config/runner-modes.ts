/** The four ways a runner pod can be built; see `shared/modes/`. */
export const RUNNER_MODES = ['standard', 'userns', 'dind', 'dind-rootless'] as const;
export type RunnerMode = (typeof RUNNER_MODES)[number];

/**
 * GitHub's official runner image, pinned to a runner release. The tag tracks the releases of actions/runner
 * (https://github.com/actions/runner/releases; the image is built from its `images/Dockerfile`). GitHub refuses
 * to register runners below a minimum version, and a runner older than the latest release updates itself before
 * its job (a download on every job): bump this tag, or set RUNNER_IMAGE / a profile's `image`, with each release.
 */
export const DEFAULT_RUNNER_IMAGE = 'ghcr.io/actions/actions-runner:2.338.0';

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
