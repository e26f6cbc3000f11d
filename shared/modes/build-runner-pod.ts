import type { V1PodSpec } from '@kubernetes/client-node';
import type { RunnerMode } from '../config/runner-modes.js';
import type { JobPlatform } from '../labels/job-platform.js';
import { runnerNodeSelector } from '../profiles/profile-placement.js';
import { type RunnerProfile, runnerImageOf } from '../profiles/runner-profile.js';
import { applyProfile } from './apply-profile.js';
import { dindPodSpec } from './dind.js';
import { dindRootlessPodSpec } from './dind-rootless.js';
import type { RunnerPodInput } from './runner-pod.js';
import { standardPodSpec } from './standard.js';
import { usernsPodSpec } from './userns.js';

const podSpecBuilders: Readonly<Record<RunnerMode, (input: RunnerPodInput) => V1PodSpec>> = {
  standard: standardPodSpec,
  userns: usernsPodSpec,
  dind: dindPodSpec,
  'dind-rootless': dindRootlessPodSpec,
};

/**
 * The runner pod of a profile: its mode's pod, shaped by the profile (images, resources, placement, caches), on a
 * node of the OS and architecture the job asks for (`platform`, from its labels) as well as the profile's own. A
 * profile that follows GitHub's releases runs `release` (`runnerImageOf`).
 */
export function buildRunnerPodSpec(
  profile: RunnerProfile,
  secretName: string,
  platform: JobPlatform = {},
  release?: string,
): V1PodSpec {
  const runnerImage = runnerImageOf(profile, release);
  const pod: RunnerPodInput = { runnerImage, dindImage: profile.dindImage, secretName };
  return applyProfile(podSpecBuilders[profile.mode](pod), profile, runnerNodeSelector(profile, platform));
}
