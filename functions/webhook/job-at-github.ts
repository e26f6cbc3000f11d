import { UpstreamError } from '../../shared/errors/errors.js';
import type { WorkflowJob } from '../../shared/github/github-client.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';

/**
 * A recorded job as GitHub has it, read through the record's own repository; `undefined` when GitHub answers 404
 * (the job, or its repository, is gone). Every other failure is thrown.
 */
export async function jobAtGitHub(
  deps: HandlerDeps,
  record: RunnerRecord,
  deadline: Deadline,
): Promise<WorkflowJob | undefined> {
  try {
    return await deps.github.getJob(record, record.jobId, deadline);
  } catch (error) {
    if (error instanceof UpstreamError && error.upstream === 'github' && error.status === 404)
      return undefined;
    throw error;
  }
}
