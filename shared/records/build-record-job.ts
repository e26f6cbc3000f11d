import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../config/load-config.js';
import type { RunnerProfile } from '../profiles/runner-profile.js';
import { buildRunnerJob } from './build-runner-job.js';
import { type Claim, type RecordFields, recordFieldsOf, runnerJobName } from './record-schema.js';

/**
 * The record of a queued job as the configuration makes it: its runner Job, suspended, with the profile chosen for
 * it, optionally claimed. What the handler creates, `render` prints and the Pod Security test submits. A profile that
 * follows GitHub's releases runs `runnerRelease` (`RunnerReleases.followed`), or the pinned one when it is not given.
 */
export function buildRecordJob(
  config: Config,
  profile: RunnerProfile,
  fields: RecordFields,
  claim?: Claim,
  /** The Job's name: the job's own by default, a replacement's (`replacementName`) otherwise. */
  name: string = runnerJobName(fields.jobId),
  runnerRelease?: string,
): V1Job {
  return buildRunnerJob({
    profile,
    namespace: config.namespace,
    ttlSecondsAfterFinished: config.jobTtlSeconds,
    name,
    secretName: name,
    ...recordFieldsOf(fields),
    ...(fields.unconfirmed === true ? { unconfirmed: true } : {}),
    ...(claim === undefined ? {} : { claim }),
    suspend: true,
    runnerRelease,
  });
}
