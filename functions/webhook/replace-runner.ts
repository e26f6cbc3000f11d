import { RecordConflictError } from '../../shared/errors/errors.js';
import { labelsCover } from '../../shared/labels/label-matchers.js';
import { sameLabels } from '../../shared/labels/same-labels.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { profileForRecord } from '../../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import {
  generationOf,
  newClaim,
  recordFieldsOf,
  replacementName,
} from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { jobAtGitHub } from './job-at-github.js';
import { releaseFor } from './release-for.js';
import { startRunner } from './start-runner.js';

/** What became of a job whose runner another job took, or whose runner never came up. */
export type Replacement =
  | { readonly outcome: 'replaced'; readonly job: string }
  | { readonly outcome: 'not-needed'; readonly reason: string };

/**
 * Holds the invariant: a job we accepted that GitHub still has queued has a runner of ours able to take it. Called
 * when the runner made for `lost`'s job can no longer take it: another job took it (a JIT runner takes any queued
 * job its labels cover, so a gpu job's runner may run a small job whose own runner can never take the gpu job), or
 * it never came up and was removed. Nothing to do when the job no longer waits, when one of its own runners is
 * starting or free, or when a runner freed by the job that took this one (`freed`: that job's own records, or in
 * reconcile every runner whose job went elsewhere) is idle and covers its labels. Otherwise a replacement is
 * recorded (`runner-<job id>-<n>`, the next generation, so two deciders make one) and started.
 */
export async function replaceRunner(
  deps: HandlerDeps,
  lost: RunnerRecord,
  freed: readonly RunnerRecord[],
  log: Logger,
  deadline: Deadline,
  why = "another job took this job's runner",
): Promise<Replacement> {
  const job = await jobAtGitHub(deps, lost, deadline);
  const status = job?.status ?? 'missing';
  if (status !== 'queued') return { outcome: 'not-needed', reason: `job is no longer queued (${status})` };
  // A replacement is made from the lost record's labels: only when they are GitHub's (a record started before every
  // start compared them may hold a payload's).
  if (!sameLabels(job?.labels ?? [], lost.jobLabels)) {
    return { outcome: 'not-needed', reason: "the record's labels differ from GitHub's" };
  }
  for (const record of freed) {
    if (record.state !== 'started' || !labelsCover(record.jobLabels, lost.jobLabels)) continue;
    const registration = await deps.github.findRunner(record, record.name, deadline);
    if (registration !== undefined && !registration.busy) {
      return { outcome: 'not-needed', reason: 'a freed runner can take it' };
    }
  }
  const ofJob = await deps.records.listRecordsOfJob(lost.jobId, deadline);
  for (const record of ofJob) {
    if (record.name === lost.name || record.state === 'finished' || record.state === 'removed') continue;
    if (record.state === 'queued')
      return { outcome: 'not-needed', reason: 'a runner of its own is starting' };
    const registration = await deps.github.findRunner(record, record.name, deadline);
    if (registration !== undefined && !registration.busy) {
      return { outcome: 'not-needed', reason: 'a runner of its own is free' };
    }
  }
  const generation =
    Math.max(generationOf(lost.name), ...ofJob.map((record) => generationOf(record.name))) + 1;
  const name = replacementName(lost.jobId, generation);
  const now = deps.now ?? Date.now;
  const claim = newClaim(deps.config.claimTtlSeconds, now());
  const profile = profileForRecord(deps.config.profiles, lost.jobLabels);
  const release = await releaseFor(deps, profile, lost);
  const created = await deps.records.createRecord(
    buildRecordJob(deps.config, profile, recordFieldsOf(lost), claim, name, release),
    deadline,
  );
  if (!created.created) {
    // Another decider made it (it starts it, or reconcile does): fine. But a 409 may also be a replacement of the
    // same name still going away: no record, and no answer may claim one.
    const existing = await deps.records.getRecord(name, deadline);
    if (existing === undefined || existing.state === 'removed') {
      throw new RecordConflictError('the replacement runner job was deleted while it was being made');
    }
    return { outcome: 'replaced', job: name };
  }
  log.info({ job: lost.name, replacement: name }, `${why}; starting a replacement`);
  const result = await startRunner(deps, created.record, claim, log, deadline);
  return result.started || !result.cancelled
    ? { outcome: 'replaced', job: name }
    : { outcome: 'not-needed', reason: result.reason };
}
