import { labelsCover } from '../../shared/labels/label-matchers.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { profileForRecord } from '../../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import { newClaim, recordFieldsOf, replacementName } from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { startRunner } from './start-runner.js';

/** What became of a job whose runner another job took. */
export type Replacement =
  | { readonly outcome: 'replaced'; readonly job: string }
  | { readonly outcome: 'not-needed'; readonly reason: string };

/**
 * A JIT runner takes any queued job its labels cover, so the runner made for `taken`'s job may run another job
 * instead, and the job it was made for would wait with no runner able to take it (a gpu job whose runner took a
 * small job, say). Holds the invariant: a job we accepted that GitHub still has queued has a runner of ours able to
 * take it. Nothing to do when the job no longer waits, when one of its own runners is still free, or when a runner
 * freed by the job that took this one (`freed`: that job's own records, or in reconcile every runner whose
 * job went elsewhere) is idle and covers its labels. Otherwise a replacement
 * is recorded (`runner-<job id>-<n>`, the next generation, so two deciders make one) and started.
 */
export async function replaceTakenRunner(
  deps: HandlerDeps,
  taken: RunnerRecord,
  freed: readonly RunnerRecord[],
  log: Logger,
  deadline: Deadline,
): Promise<Replacement> {
  const job = await deps.github.getJob(taken, taken.jobId, deadline);
  if (job.status !== 'queued')
    return { outcome: 'not-needed', reason: `job is no longer queued (${job.status})` };
  for (const record of freed) {
    if (record.state !== 'started' || !labelsCover(record.jobLabels, taken.jobLabels)) continue;
    const registration = await deps.github.findRunner(record, record.name, deadline);
    if (registration !== undefined && !registration.busy) {
      return { outcome: 'not-needed', reason: 'a freed runner can take it' };
    }
  }
  const ofJob = await deps.records.listRecordsOfJob(taken.jobId, deadline);
  for (const record of ofJob) {
    if (record.name === taken.name || record.state === 'finished' || record.state === 'removed') continue;
    if (record.state === 'queued')
      return { outcome: 'not-needed', reason: 'a runner of its own is starting' };
    const registration = await deps.github.findRunner(record, record.name, deadline);
    if (registration !== undefined && !registration.busy) {
      return { outcome: 'not-needed', reason: 'a runner of its own is free' };
    }
  }
  const generation =
    Math.max(1, ...ofJob.map((record) => Number(/-(\d+)$/.exec(record.name.slice(7))?.[1] ?? 1))) + 1;
  const name = replacementName(taken.jobId, generation);
  const now = deps.now ?? Date.now;
  const claim = newClaim(deps.config.claimTtlSeconds, now());
  const profile = profileForRecord(deps.config.profiles, taken.jobLabels);
  const created = await deps.records.createRecord(
    buildRecordJob(deps.config, profile, recordFieldsOf(taken), claim, name),
    deadline,
  );
  if (!created.created) return { outcome: 'replaced', job: name };
  log.info(
    { job: taken.name, replacement: name },
    "another job took this job's runner; starting a replacement",
  );
  const result = await startRunner(deps, created.record, claim, log, deadline);
  return result.started || !result.cancelled
    ? { outcome: 'replaced', job: name }
    : { outcome: 'not-needed', reason: result.reason };
}
