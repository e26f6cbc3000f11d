import type { V1Affinity, V1EnvVar, V1ResourceRequirements, V1Toleration } from '@kubernetes/client-node';
import type { RunnerMode } from '../config/runner-modes.js';
import { type LabelMatcher, matchLabels } from '../labels/label-matchers.js';

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
  readonly image: string;
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

/** Limits by default: a runner that forks a build without bounds must not starve the node. */
export const DEFAULT_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '500m', memory: '1Gi', 'ephemeral-storage': '1Gi' },
  limits: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '20Gi' },
};

/** GitHub's limit for one job: 6 hours. */
export const DEFAULT_ACTIVE_DEADLINE_SECONDS = 6 * 3600;

/** The first profile whose matchers fit the job's labels (which must include `self-hosted`), if any. */
export function selectProfile(
  profiles: readonly RunnerProfile[],
  labels: readonly string[],
): RunnerProfile | undefined {
  return profiles.find((profile) => matchLabels(labels, profile.matchers));
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
