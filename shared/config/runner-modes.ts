/** The four ways a runner pod can be built; see `shared/modes/`. */
export const RUNNER_MODES = ['standard', 'userns', 'dind', 'dind-rootless'] as const;
export type RunnerMode = (typeof RUNNER_MODES)[number];

/** The runner image each mode uses unless `RUNNER_IMAGE` overrides it. */
export const DEFAULT_RUNNER_IMAGES: Readonly<Record<RunnerMode, string>> = {
  standard: 'ghcr.io/actions/actions-runner:latest',
  userns: 'ghcr.io/actions/actions-runner:latest',
  dind: 'ghcr.io/actions/actions-runner:latest',
  'dind-rootless': 'ghcr.io/actions/actions-runner-dind-rootless:latest',
};
