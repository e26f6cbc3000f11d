import type { V1Job } from '@kubernetes/client-node';
import { jobPlatform } from '../labels/job-platform.js';
import { buildRunnerPodSpec } from '../modes/build-runner-pod.js';
import { RUNNER_CONTAINER, VERSION_DEPRECATED_EXIT_CODE } from '../modes/runner-pod.js';
import type { RunnerProfile } from '../profiles/runner-profile.js';
import { costAttribution } from './cost-attribution.js';
import {
  type Claim,
  formatClaim,
  LABEL_PREFIX,
  RECORD_ANNOTATIONS,
  type RecordFields,
  runnerJobName,
  runnerLabels,
} from './record-schema.js';

/** The workflow job a runner Job is for, and how to build it. */
export interface RunnerJobInput extends RecordFields {
  /** What the pod is made of: mode, images, resources, placement. */
  readonly profile: RunnerProfile;
  /** Name of the Secret holding the JIT config. */
  readonly secretName: string;
  /** The Job's name; by default the job's own (`runner-<job id>`), a replacement's otherwise. */
  readonly name?: string;
  readonly namespace: string;
  readonly ttlSecondsAfterFinished: number;
  /** Who is finishing the record, and until when. */
  readonly claim?: Claim;
  /** Created suspended: no pod starts until the JIT Secret exists and the Job is resumed. */
  readonly suspend: boolean;
  /** GitHub's newest runner release, run by a profile that follows releases; unknown: the pinned one. */
  readonly runnerRelease?: string | undefined;
}

/**
 * Builds the runner Job for one workflow job: `backoffLimit: 0` (a runner is registered for one job; a retry
 * could not use the spent JIT config), `restartPolicy: Never`, deleted by the TTL controller after it finishes.
 * A runner refused for its version (exit 7) fails the Job by its pod failure policy, so that the Job's Failed
 * condition says so (reason `PodFailurePolicy`; see `isOutdatedFailure`), and reconcile does not replace it.
 */
export function buildRunnerJob(input: RunnerJobInput): V1Job {
  const { profile } = input;
  // A job naming two machines gets no profile, so no record; were one made anyway, it would carry no ask.
  const of = jobPlatform(input.jobLabels);
  const platform = 'platform' in of ? of.platform : {};
  const attribution = costAttribution(input);
  const labels = {
    ...runnerLabels(input),
    [`${LABEL_PREFIX}/profile`]: profile.name,
    ...attribution.labels,
  };
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: input.name ?? runnerJobName(input.jobId),
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
        ...(input.unconfirmed === true ? { [RECORD_ANNOTATIONS.unconfirmed]: 'true' } : {}),
        ...attribution.annotations,
      },
    },
    spec: {
      suspend: input.suspend,
      backoffLimit: 0,
      // Needs the pod's `restartPolicy: Never` (batch/v1 validation), which every mode's pod has.
      podFailurePolicy: {
        rules: [
          {
            action: 'FailJob',
            onExitCodes: {
              containerName: RUNNER_CONTAINER,
              operator: 'In',
              values: [VERSION_DEPRECATED_EXIT_CODE],
            },
          },
        ],
      },
      // A runner pod does not outlive GitHub's own job limit (6 hours by default).
      activeDeadlineSeconds: profile.activeDeadlineSeconds,
      ttlSecondsAfterFinished: input.ttlSecondsAfterFinished,
      template: {
        metadata: {
          labels,
          annotations: attribution.annotations,
        },
        spec: buildRunnerPodSpec(profile, input.secretName, platform, input.runnerRelease),
      },
    },
  };
}
