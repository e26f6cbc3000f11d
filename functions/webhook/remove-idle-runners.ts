import { shuffled } from '../../shared/collections/shuffled.js';
import type { RegisteredRunner, RepoRef, WorkflowJob } from '../../shared/github/github-client.js';
import { labelsCover } from '../../shared/labels/label-matchers.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { jobIdOfRunner } from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { jobAtGitHub } from './job-at-github.js';
import { removeRunner } from './remove-runner.js';
import { replaceRunner } from './replace-runner.js';

/** What removing idle runners did. */
export interface IdleReport {
  /** Started runners whose job was cancelled or taken by another runner, idle, removed. */
  surplus: number;
  /** `runner-*` registrations with no record (an interrupted start), idle, removed. */
  orphans: number;
  /** Jobs whose runner another job took, given a replacement runner. */
  replaced: number;
  failures: number;
}

/**
 * Removes runners that would otherwise wait for a job that will never come, until a cancelled pod's
 * `activeDeadlineSeconds` (hours) or for ever:
 * - a started record whose job GitHub no longer has queued, and which is not running it: cancelled (its
 *   `completed` delivery lost) or taken by another runner. Its runner is removed unless it is busy (then it runs
 *   another job it was able to take, and finishes with it), or another of our live records asks for labels it
 *   covers (it may be the runner that job gets).
 * - a `runner-*` registration that has no record: a start cut short after registering. Removed when idle.
 * Started records are looked at in a random order, so that a pass that runs out of budget does not always look
 * at the same ones.
 */
export async function removeIdleRunners(
  deps: HandlerDeps,
  records: readonly RunnerRecord[],
  hooks: readonly RepoRef[],
  log: Logger,
  deadline: Deadline,
  spend: () => boolean,
  report: IdleReport,
): Promise<void> {
  const live = records.filter((record) => record.state === 'queued' || record.state === 'started');
  const started = live.filter((record) => record.state === 'started');
  // Our registrations, and which are busy: one list per place where registrations are made (each repository of a
  // record or a configured hook; its organisation, in org scope).
  const placeOf = (ref: RepoRef) =>
    (deps.config.runnerScope === 'org' ? ref.owner : `${ref.owner}/${ref.repo}`).toLowerCase();
  const places = new Map<string, RepoRef>();
  for (const ref of [...records, ...hooks]) places.set(placeOf(ref), ref);
  const registrations = new Map<string, RegisteredRunner[]>();
  for (const [key, place] of places) {
    if (!spend()) break;
    try {
      registrations.set(key, await deps.github.listRunners(place, deadline));
    } catch (error) {
      report.failures += 1;
      log.warn({ err: error }, 'could not list runner registrations');
    }
  }
  // First what GitHub says of each started runner's job, then the decisions, which depend on one another.
  const jobs = new Map<RunnerRecord, WorkflowJob | undefined>();
  for (const record of shuffled(started)) {
    if (!spend()) break;
    try {
      jobs.set(record, await jobAtGitHub(deps, record, deadline));
    } catch (error) {
      report.failures += 1;
      log.warn({ job: record.name, err: error }, 'could not check a started runner');
    }
  }
  /** A record's registration as this pass listed it (undefined also when its place could not be listed). */
  const listedOwn = (record: RunnerRecord) =>
    registrations.get(placeOf(record))?.find((registration) => registration.name === record.name);
  /**
   * A job that waits with no runner able to take it: a queued record (no runner yet), or a started one whose job
   * GitHub still has queued (or was not asked) and whose own runner is not idle (taken by another job, or gone).
   * When its place's registrations could not be listed, it is taken to lack one.
   */
  const lacksRunner = (record: RunnerRecord) => {
    if (record.state === 'queued') return true;
    if (jobs.has(record) && jobs.get(record)?.status !== 'queued') return false;
    const own = listedOwn(record);
    return own === undefined || own.busy;
  };
  /** A record's registration from this pass's list, or asked of GitHub when its place could not be listed. */
  const ownRegistration = (record: RunnerRecord) =>
    registrations.has(placeOf(record))
      ? listedOwn(record)
      : deps.github.findRunner(record, record.name, deadline);
  /** Runners whose job went elsewhere: free for a job their labels cover. */
  const freed = [...jobs]
    .filter(([record, job]) => job?.status !== 'queued' && job?.runnerName !== record.name)
    .map(([record]) => record);
  for (const [record, job] of jobs) {
    try {
      if (job?.status === 'queued') {
        await replaceIfTaken(deps, record, await ownRegistration(record), freed, log, deadline, report);
        continue;
      }
      if (job?.runnerName === record.name) continue;
      // A runner whose job went elsewhere may be exactly what another of our jobs needs: with equal labels, GitHub
      // often runs job X on Y's runner, and Y then on X's. Keep it while a job its labels cover waits with no runner
      // of its own able to take it; a job whose own runner is idle needs no other (that one takes it).
      // A job cancelled before any runner took it (or gone) is not one that went elsewhere: its runner goes, as its
      // lost `completed` delivery would have removed it.
      const cancelled = job === undefined || (job.status === 'completed' && !job.runnerName);
      const needed =
        !cancelled &&
        live.some(
          (other) =>
            other.jobId !== record.jobId &&
            labelsCover(record.jobLabels, other.jobLabels) &&
            lacksRunner(other),
        );
      if (needed) continue;
      if (await removeRunner(deps, record, deadline)) {
        report.surplus += 1;
        log.info(
          { job: record.name, status: job?.status ?? 'missing' },
          'removed an idle runner whose job went elsewhere',
        );
      }
    } catch (error) {
      report.failures += 1;
      log.warn({ job: record.name, err: error }, 'could not check a started runner');
    }
  }

  // Registrations without a record: a start cut short after registering.
  const liveNames = new Set(live.map((record) => record.name));
  for (const [key, listed] of registrations) {
    const place = places.get(key) as RepoRef;
    try {
      for (const registration of listed) {
        if (jobIdOfRunner(registration.name) === undefined || registration.busy) continue;
        // A record is made before its registration, so one that exists now may have a start under way: only a
        // registration whose record is gone (read now, not from the pass's list) is an orphan. One the pass's list
        // holds live needs no read: if it has gone since, the next pass finds it.
        if (liveNames.has(registration.name)) continue;
        if ((await deps.records.getRecord(registration.name, deadline)) !== undefined) continue;
        await deps.github.deleteRunner(place, registration.id, deadline);
        report.orphans += 1;
        log.info({ runner: registration.name }, 'removed a runner registration that has no runner job');
      }
    } catch (error) {
      report.failures += 1;
      log.warn({ err: error }, 'could not look for runner registrations without a job');
    }
  }
}

/**
 * The reconcile side of `handleInProgressJob`, for an `in_progress` delivery that never came: a started runner
 * whose own job GitHub has queued, and which is busy, runs another job; its job may need a replacement. The
 * registration (`own`) was listed before the job was read, and `replaceRunner` reads the job again: a runner busy
 * while its own job is still queued after that is not running its own job, since GitHub marks a job in progress
 * when it gives it out.
 */
async function replaceIfTaken(
  deps: HandlerDeps,
  record: RunnerRecord,
  own: RegisteredRunner | undefined,
  freed: readonly RunnerRecord[],
  log: Logger,
  deadline: Deadline,
  report: IdleReport,
): Promise<void> {
  if (!own?.busy) return;
  const replacement = await replaceRunner(deps, record, freed, log, deadline);
  if (replacement.outcome === 'replaced') report.replaced += 1;
}
