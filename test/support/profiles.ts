import {
  DEFAULT_DIND_IMAGES,
  DEFAULT_RUNNER_IMAGES,
  type RunnerMode,
} from '../../shared/config/runner-modes.js';
import {
  DEFAULT_ACTIVE_DEADLINE_SECONDS,
  DEFAULT_RESOURCES,
  type RunnerProfile,
} from '../../shared/profiles/runner-profile.js';

/** The profile the configuration implies for a mode, with overrides. */
export function profileOf(mode: RunnerMode, extra: Partial<RunnerProfile> = {}): RunnerProfile {
  return {
    name: 'default',
    matchers: [],
    mode,
    image: DEFAULT_RUNNER_IMAGES[mode],
    followsReleases: true,
    dindImage: DEFAULT_DIND_IMAGES[mode],
    resources: DEFAULT_RESOURCES,
    activeDeadlineSeconds: DEFAULT_ACTIVE_DEADLINE_SECONDS,
    env: [],
    volumes: [],
    ...extra,
  };
}
