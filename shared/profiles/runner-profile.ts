import type { V1Affinity, V1EnvVar, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';
import { officialRunnerImage, type RunnerMode } from '../config/runner-modes.js';
import { jobPlatform } from '../labels/job-platform.js';
import { type LabelMatcher, matchLabels } from '../labels/label-matchers.js';
import { placementConflict } from './profile-placement.js';

/** A cache volume mounted into the runner: a PersistentVolumeClaim, or an emptyDir when no claim is named. */
export interface CacheVolume {
  readonly name: string;
  readonly mountPath: string;
  readonly claimName?: string;
  readonly readOnly?: boolean;
}

/**
 * What a runner pod is made of, chosen by the job's labels. The labels only select a profile: nothing of their
 * text reaches the pod spec.
 */
export interface RunnerProfile {
  readonly name: string;
  /** `LABEL_MATCHERS` syntax; empty: every self-hosted job. */
  readonly matchers: readonly LabelMatcher[];
  readonly mode: RunnerMode;
  /**
   * The runner image the profile (or RUNNER_IMAGE) names; for a profile that names none, the official image of the
   * pinned release, run only while GitHub's newest is unknown. Read it through `runnerImageOf`.
   */
  readonly image: string;
  /**
   * True when neither the profile nor RUNNER_IMAGE names an image: its runners run the official image of GitHub's
   * newest runner release. A named image is pinned on purpose and never changes by itself.
   */
  readonly followsReleases: boolean;
  readonly dindImage: string;
  readonly resources: V1ResourceRequirements;
  readonly nodeSelector?: Readonly<Record<string, string>>;
  readonly tolerations?: readonly V1Toleration[];
  readonly affinity?: V1Affinity;
  readonly runtimeClassName?: string;
  /** GitHub stops a job after 6 hours; a runner pod should not outlive that. */
  readonly activeDeadlineSeconds: number;
  readonly env: readonly V1EnvVar[];
  readonly volumes: readonly CacheVolume[];
  /** Most runners of this profile started at once; unset: no cap of its own. */
  readonly maxRunners?: number;
}

/**
 * The runner image of a profile's pods, the one place it is decided: its own image, or for a profile that follows
 * GitHub's releases the official image of `release` (GitHub's newest, as `RunnerReleases.followed` knows it), or
 * of the pinned release while that is unknown.
 */
export function runnerImageOf(profile: RunnerProfile, release: string | undefined): string {
  return profile.followsReleases && release !== undefined ? officialRunnerImage(release) : profile.image;
}

/** Limits by default: a runner that forks a build without bounds must not starve the node. */
export const DEFAULT_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '1Gi' },
  limits: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '20Gi' },
};

/** GitHub's limit for one job: 6 hours. */
export const DEFAULT_ACTIVE_DEADLINE_SECONDS = 6 * 3600;

/** The profile a job gets, or why it gets none (answered to GitHub as the reason it was `ignored`). */
export type ProfileChoice =
  | { readonly profile: RunnerProfile; readonly reason?: undefined }
  | { readonly profile?: undefined; readonly reason: string };

/** The reason of a job whose labels no profile's `match` fits. */
export const NO_MATCH_REASON = 'job labels do not match';

/**
 * The first profile whose matchers fit the job's labels (which must include `self-hosted`) and that can place its
 * runner on the machine those labels ask for (`linux`/`windows`/`macOS`, `x64`/`ARM64`/`ARM`; see
 * `placementConflict`). A profile that fits the labels but pins another machine does not match, and the next one
 * is tried. Without a profile: why, naming the first conflict when labels alone would have matched.
 */
export function chooseProfile(profiles: readonly RunnerProfile[], labels: readonly string[]): ProfileChoice {
  const fitting = profiles.filter((profile) => matchLabels(labels, profile.matchers));
  if (fitting.length === 0) return { reason: NO_MATCH_REASON };
  const of = jobPlatform(labels);
  if ('problem' in of) return { reason: of.problem };
  let first: string | undefined;
  for (const profile of fitting) {
    const conflict = placementConflict(profile, of.platform);
    if (conflict === undefined) return { profile };
    first ??= conflict;
  }
  return { reason: first ?? NO_MATCH_REASON };
}

/** The profile `chooseProfile` gives a job, if any. */
export function selectProfile(
  profiles: readonly RunnerProfile[],
  labels: readonly string[],
): RunnerProfile | undefined {
  return chooseProfile(profiles, labels).profile;
}

/**
 * The profile of a job already recorded: the one its labels select now, or the first profile when the profile
 * that recorded it was removed from the configuration since (the record must still be startable).
 */
export function profileForRecord(
  profiles: readonly RunnerProfile[],
  labels: readonly string[],
): RunnerProfile {
  return selectProfile(profiles, labels) ?? (profiles[0] as RunnerProfile);
}
