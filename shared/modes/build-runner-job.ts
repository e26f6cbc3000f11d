import type { V1Job, V1PodSpec } from '@kubernetes/client-node';
import type { RunnerMode } from '../config/runner-modes.js';
import type { RunnerProfile } from '../profiles/runner-profile.js';
import { applyProfile } from './apply-profile.js';
import { dindPodSpec } from './dind.js';
import { dindRootlessPodSpec } from './dind-rootless.js';
import { toLabelValue } from './label-value.js';
import {
  type Claim,
  formatClaim,
  LABEL_PREFIX,
  RECORD_ANNOTATIONS,
  type RecordFields,
} from './record-annotations.js';
import type { RunnerPodInput } from './runner-pod.js';

export { LABEL_PREFIX } from './record-annotations.js';

import { standardPodSpec } from './standard.js';
import { usernsPodSpec } from './userns.js';

/** Every runner Job carries this label; `kubectl get jobs -l app=github-runner` lists them. */
export const RUNNER_APP_LABEL = { app: 'github-runner' } as const;

const podSpecBuilders: Readonly<Record<RunnerMode, (input: RunnerPodInput) => V1PodSpec>> = {
  standard: standardPodSpec,
  userns: usernsPodSpec,
  dind: dindPodSpec,
  'dind-rootless': dindRootlessPodSpec,
};

/** The workflow job a runner Job is for, and how to build it. */
export interface RunnerJobInput extends RecordFields {
  /** What the pod is made of: mode, images, resources, placement. */
  readonly profile: RunnerProfile;
  /** Name of the Secret holding the JIT config. */
  readonly secretName: string;
  readonly namespace: string;
  readonly ttlSecondsAfterFinished: number;
  /** Who is finishing the record, and until when. */
  readonly claim?: Claim;
  /** Created suspended: no pod starts until the JIT Secret exists and the Job is resumed. */
  readonly suspend: boolean;
}

/** The Job (and runner) name for a GitHub job id: one job, one name, so a second create is a 409. */
export function runnerJobName(jobId: number): string {
  return `runner-${jobId}`;
}

/** The labels that identify a runner Job and its pod. */
export function runnerLabels(
  input: Pick<RunnerJobInput, 'owner' | 'repo' | 'jobId'>,
): Record<string, string> {
  return {
    ...RUNNER_APP_LABEL,
    [`${LABEL_PREFIX}/owner`]: toLabelValue(input.owner),
    [`${LABEL_PREFIX}/repo`]: toLabelValue(input.repo),
    [`${LABEL_PREFIX}/job-id`]: String(input.jobId),
  };
}

/**
 * Builds the runner Job for one workflow job: `backoffLimit: 0` (a runner is registered for one job; a retry
 * could not use the spent JIT config), `restartPolicy: Never`, deleted by the TTL controller after it finishes.
 */
export function buildRunnerJob(input: RunnerJobInput): V1Job {
  const { profile } = input;
  const labels = { ...runnerLabels(input), [`${LABEL_PREFIX}/profile`]: profile.name };
  const pod: RunnerPodInput = {
    runnerImage: profile.image,
    dindImage: profile.dindImage,
    secretName: input.secretName,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: runnerJobName(input.jobId),
      namespace: input.namespace,
      labels,
      annotations: {
        [RECORD_ANNOTATIONS.repository]: `${input.owner}/${input.repo}`,
        [RECORD_ANNOTATIONS.runId]: String(input.runId),
        [RECORD_ANNOTATIONS.runAttempt]: String(input.runAttempt),
        [RECORD_ANNOTATIONS.delivery]: input.deliveryId,
        [RECORD_ANNOTATIONS.mode]: profile.mode,
        [RECORD_ANNOTATIONS.jobLabels]: JSON.stringify(input.jobLabels),
        ...(input.hookId === undefined ? {} : { [RECORD_ANNOTATIONS.hook]: String(input.hookId) }),
        ...(input.installationId === undefined
          ? {}
          : { [RECORD_ANNOTATIONS.installation]: String(input.installationId) }),
        ...(input.claim === undefined ? {} : { [RECORD_ANNOTATIONS.claim]: formatClaim(input.claim) }),
      },
    },
    spec: {
      suspend: input.suspend,
      backoffLimit: 0,
      // A runner pod does not outlive GitHub's own job limit (6 hours by default).
      activeDeadlineSeconds: profile.activeDeadlineSeconds,
      ttlSecondsAfterFinished: input.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: applyProfile(podSpecBuilders[profile.mode](pod), profile),
      },
    },
  };
}
