import { profileForRecord } from '../../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import { type RecordFields, runnerJobName } from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { releaseFor } from './release-for.js';

/**
 * Records a job anew, queued and unclaimed: the live record, and whether this call made it. `undefined` when
 * "already exists" has no live record behind it: the old Job still going away (removed), or a conflict that was
 * not one.
 */
export async function remakeRecord(
  deps: HandlerDeps,
  fields: RecordFields,
  deadline: Deadline,
  /** The record's name: the job's own by default, a replacement's when one is reset. */
  name: string = runnerJobName(fields.jobId),
): Promise<{ record: RunnerRecord; made: boolean } | undefined> {
  const { config, records } = deps;
  const profile = profileForRecord(config.profiles, fields.jobLabels);
  const release = await releaseFor(deps, profile, fields);
  const result = await records.createRecord(
    buildRecordJob(config, profile, fields, undefined, name, release),
    deadline,
  );
  if (result.created) return { record: result.record, made: true };
  const existing = await records.getRecord(name, deadline);
  return existing === undefined || existing.state === 'removed'
    ? undefined
    : { record: existing, made: false };
}
