import type { V1Job, V1Secret } from '@kubernetes/client-node';

/** The outcome of creating a runner Job: created now (with its uid), or already there. */
export type CreateJobResult = { readonly created: true; readonly uid: string } | { readonly created: false };

/**
 * What the function needs from Kubernetes. The `@kubernetes/client-node` implementation is
 * `createKubernetesRunnerStore`; tests may pass any other.
 */
export interface RunnerStore {
  /** Creates the Job. An existing Job of that name is not an error: `{ created: false }`. */
  createJob(job: V1Job): Promise<CreateJobResult>;
  /** Creates the JIT Secret. An existing Secret of that name is not an error. */
  createSecret(secret: V1Secret): Promise<void>;
  /** Resumes a suspended Job so its pod starts. */
  resumeJob(name: string): Promise<void>;
  /** Deletes a Job and, through the garbage collector, its pods and Secret. A missing Job is not an error. */
  deleteJob(name: string): Promise<void>;
  /** Counts runner Jobs (`app=github-runner`) that have neither completed nor failed. */
  countActive(): Promise<number>;
}

/** True when a Job has a Complete or Failed condition set to True. */
export function isFinished(job: V1Job): boolean {
  return (job.status?.conditions ?? []).some(
    (condition) =>
      (condition.type === 'Complete' || condition.type === 'Failed') && condition.status === 'True',
  );
}
