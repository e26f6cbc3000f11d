import type { V1Job, V1PodSpec } from '@kubernetes/client-node';
import type { RunnerMode } from '../config/load-config.js';
import { dindPodSpec } from './dind.js';
import { dindRootlessPodSpec } from './dind-rootless.js';
import { toLabelValue } from './label-value.js';
import type { RunnerPodInput } from './runner-pod.js';
import { standardPodSpec } from './standard.js';
import { usernsPodSpec } from './userns.js';

/** Every runner Job carries this label; `kubectl get jobs -l app=github-runner` lists them. */
export const RUNNER_APP_LABEL = { app: 'github-runner' } as const;
export const LABEL_PREFIX = 'kube-actions-runner.dev';

const podSpecBuilders: Readonly<Record<RunnerMode, (input: RunnerPodInput) => V1PodSpec>> = {
  standard: standardPodSpec,
  userns: usernsPodSpec,
  dind: dindPodSpec,
  'dind-rootless': dindRootlessPodSpec,
};

/** The workflow job a runner Job is for, and how to build it. */
export interface RunnerJobInput extends RunnerPodInput {
  readonly mode: RunnerMode;
  readonly namespace: string;
  readonly ttlSecondsAfterFinished: number;
  readonly owner: string;
  readonly repo: string;
  readonly jobId: number;
  readonly runId: number;
  readonly runAttempt: number;
  readonly deliveryId: string;
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
  const labels = runnerLabels(input);
  return {
    apiVersion: 'batch/v1',
    kind: 'Job',
    metadata: {
      name: runnerJobName(input.jobId),
      namespace: input.namespace,
      labels,
      annotations: {
        [`${LABEL_PREFIX}/repository`]: `${input.owner}/${input.repo}`,
        [`${LABEL_PREFIX}/run-id`]: String(input.runId),
        [`${LABEL_PREFIX}/run-attempt`]: String(input.runAttempt),
        [`${LABEL_PREFIX}/delivery`]: input.deliveryId,
        [`${LABEL_PREFIX}/mode`]: input.mode,
      },
    },
    spec: {
      suspend: input.suspend,
      backoffLimit: 0,
      ttlSecondsAfterFinished: input.ttlSecondsAfterFinished,
      template: {
        metadata: { labels },
        spec: podSpecBuilders[input.mode](input),
      },
    },
  };
}
