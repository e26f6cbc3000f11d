import type { Logger } from '../../shared/log/create-logger.js';
import { profileForRecord, runnerImageOf } from '../../shared/profiles/runner-profile.js';
import { generationOf, newClaim } from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { noteOutdated } from './note-outdated.js';
import { createWaits, type WaitReason } from './record-waits.js';
import { releaseFor } from './release-for.js';
import { removeRunner } from './remove-runner.js';
import { replaceRunner } from './replace-runner.js';
import { startIfQueued } from './start-if-queued.js';
import { type Cap, capsOf } from './start-runner.js';

/** What one settling of the records did. */
export interface SettleReport {
  /** Queued records left waiting because a concurrency cap is full, or for GitHub. */
  waiting: number;
  /** Of those, the records waiting for GitHub: the credential is paused or this instance's budget is spent. */
  waitingForGitHub: number;
  /** Runner slots freed because the record holding them had finished or was gone. */
  slotsFreed: number;
  /** Queued records given their runner (queued -> started). */
  started: number;
  /** Queued records whose job no longer waits, removed. */
  removed: number;
  /** Started records whose runner never came up within RUNNER_START_TIMEOUT_SECONDS, removed. */
  timedOut: number;
  /** Runners whose pod failed (the Job's Failed condition) with their registration unused, removed. */
  died: number;
  /** Runners GitHub refused for their version (exit 7), noted and counted now; never replaced. */
  outdated: number;
  /** Jobs given a replacement runner: theirs never came up, or (reconcile) another job took it. */
  replaced: number;
  /** Records that could not be handled this time (left for the next pass). */
  failures: number;
}

export function emptySettleReport(): SettleReport {
  return {
    waiting: 0,
    waitingForGitHub: 0,
    slotsFreed: 0,
    started: 0,
    removed: 0,
    timedOut: 0,
    died: 0,
    outdated: 0,
    replaced: 0,
    failures: 0,
  };
}

/**
 * Starts waiting records, and tidies the rest: frees slots whose holder is no longer queued or started, then,
 * oldest first, starts or removes queued records nobody holds, and removes started records whose runner never
 * came up. Run by reconcile, and when a runner finishes (a slot may have opened). `spend` is asked before each
 * record acted on; it says no when the caller's budget is spent. Returns every record it read.
 */
export async function settleRecords(
  deps: HandlerDeps,
  log: Logger,
  deadline: Deadline,
  spend: () => boolean,
  report: SettleReport,
  /**
   * `oldest`: records oldest first (reconcile, a finished runner's freed slot). `anywhere`: from a random point of
   * that order, so that the many deliveries starting waiting records at once (on every instance) do not all reach
   * for the same oldest ones and lose the race for their claims.
   */
  from: 'oldest' | 'anywhere' = 'oldest',
): Promise<RunnerRecord[]> {
  const now = deps.now ?? Date.now;
  const records = (await deps.records.listRecords(deadline)).sort((a, b) => a.createdAt - b.createdAt);
  const holding = new Set(
    records
      .filter((record) => record.state === 'queued' || record.state === 'started')
      .map((record) => record.name),
  );
  // Who holds a slot of each cap, as listed now (other instances take and free slots meanwhile: a hint, which
  // takeSlots settles; it spares a pass the claim, the GitHub read and the slot calls of every record that would
  // only find its cap full, so that a backlog behind a cap costs a pass nothing and leaves it its other work).
  const held = new Map<string, Set<string>>();
  const holdersOf = (scope: string) => {
    const holders = held.get(scope) ?? new Set<string>();
    held.set(scope, holders);
    return holders;
  };
  for (const slot of await deps.records.listSlots(deadline)) {
    if (holding.has(slot.holder)) {
      holdersOf(slot.scope).add(slot.holder);
      continue;
    }
    // One slot that cannot be freed now is left for the next pass; it must not cost this pass its other work.
    try {
      await deps.records.releaseSlots(slot.holder, deadline);
      report.slotsFreed += 1;
    } catch (error) {
      report.failures += 1;
      log.warn({ job: slot.holder, err: error }, 'could not free a runner slot');
    }
  }
  const startTimeoutMs = deps.config.runnerStartTimeoutSeconds * 1000;
  const waits = createWaits(now());
  let spent = false; // the caller's budget: once spent, the other records are only counted
  const offset = from === 'anywhere' ? Math.floor(Math.random() * records.length) : 0;
  for (const record of [...records.slice(offset), ...records.slice(0, offset)]) {
    const unclaimed = (record.claim?.until ?? 0) <= now();
    // From when it was started, not created: a record may wait long for a slot before it starts.
    const neverCameUp =
      record.state === 'started' &&
      record.ready === 0 &&
      now() - (record.startedAt ?? record.createdAt) > startTimeoutMs;
    // A runner GitHub refused for its version is not one that crashed: a replacement of the same image would be
    // refused too, in a loop. Noted once; the TTL controller deletes it. Once its profile runs another image (the
    // operator pinned a newer one, or the release it follows moved), it is replaced as a runner that died, so that
    // its job still gets a runner.
    const refused = record.state === 'finished' && record.outdated && (await sameImage(deps, record));
    if (refused) {
      if (record.outdatedNoted || !spend()) continue;
      try {
        await noteOutdated(deps, record, log, deadline);
        report.outdated += 1;
      } catch (error) {
        report.failures += 1;
        log.warn({ job: record.name, err: error }, 'could not note an outdated runner');
      }
      continue;
    }
    // A runner whose pod failed: a runner that ran a job exits 0 whatever the job's result, so a failed Job is a
    // runner that crashed, lost its pod, or passed its deadline. Its registration can never take a job, and its job,
    // if still queued, would wait for a runner that is gone.
    const died = record.state === 'finished' && record.failed;
    // Other finished records are done; removed ones are going away, not to build on.
    if (record.state === 'started' && record.ready === 0 && !neverCameUp) waits.add('starting', record);
    if (record.state === 'queued' && !unclaimed) waits.add('queued', record);
    if (!((record.state === 'queued' && unclaimed) || neverCameUp || died)) continue;
    // Waiting for GitHub costs nothing to find out (the budget is in memory, a pause one shared read): such a
    // record is counted, not claimed, and spends none of the pass's actions.
    if (record.state === 'queued' && (await deps.github.startBlocked(record).catch(() => undefined))) {
      report.waiting += 1;
      report.waitingForGitHub += 1;
      waits.add('github', record);
      continue;
    }
    const caps = capsOf(deps.config, record);
    // A record holding a slot already (a start cut short) is not kept out by it.
    const full = ([scope, capacity]: Cap) =>
      !holdersOf(scope).has(record.name) && holdersOf(scope).size >= capacity;
    if (record.state === 'queued' && caps.some(full)) {
      report.waiting += 1;
      waits.add('cap', record);
      continue;
    }
    if (spent || !spend()) {
      spent = true;
      if (record.state === 'queued') waits.add('queued', record);
      continue;
    }
    try {
      if (record.state === 'queued') {
        const before = report.started;
        const wait = await settleQueued(deps, record, log, deadline, report);
        if (wait !== undefined) waits.add(wait, record);
        if (report.started > before) for (const [scope] of caps) holdersOf(scope).add(record.name);
      } else {
        // Replace first, then remove: a pass cut short between the two (GitHub's limits, a failure, its deadline)
        // leaves the old record to be tried again, never a job with no record at all.
        const why = died ? 'its runner pod failed' : 'its runner never came up';
        const last = generationOf(record.name) >= START_ATTEMPTS;
        // Its job still waits at GitHub, and its queued delivery was answered 2xx long ago: a replacement (a pod
        // evicted, stuck on a node that went away, or a runner that crashed, comes up elsewhere), a few at most.
        if (!last && (await replaceRunner(deps, record, [], log, deadline, why)).outcome === 'replaced') {
          report.replaced += 1;
        }
        if (await removeRunner(deps, record, deadline)) {
          for (const [scope] of caps) holdersOf(scope).delete(record.name);
          if (died) report.died += 1;
          else report.timedOut += 1;
          log.warn(
            { job: record.name },
            died ? 'removed a runner job whose pod failed' : 'removed a runner job that never started',
          );
          if (last) {
            log.error(
              { job: record.name, attempts: START_ATTEMPTS, why },
              "no runner of this job came up; it gets no more (its pods' events stay an hour: kubectl get events)",
            );
          }
        }
      }
    } catch (error) {
      report.failures += 1;
      log.warn({ job: record.name, err: error }, 'could not reconcile a runner job');
    }
  }
  deps.metrics.waitingForGitHub.set(report.waitingForGitHub);
  waits.report(deps.metrics.recordsWaiting);
  return records;
}

/** A queued record nobody holds: start its runner if its job still waits, else remove it. Says what it waits for. */
async function settleQueued(
  deps: HandlerDeps,
  record: RunnerRecord,
  log: Logger,
  deadline: Deadline,
  report: SettleReport,
): Promise<WaitReason | undefined> {
  const now = deps.now ?? Date.now;
  const claim = newClaim(deps.config.claimTtlSeconds, now());
  if (!(await deps.records.claimRecord(record, claim, deadline))) return 'queued';
  const check = await startIfQueued(deps, record, claim, log, deadline);
  if (check.kind === 'limited') {
    report.waiting += 1;
    report.waitingForGitHub += 1;
    return 'github';
  } else if (check.kind === 'gone') {
    if (!check.removed) return;
    report.removed += 1;
    log.info({ job: record.name, status: check.status }, 'removed a runner job whose job no longer waits');
  } else if (check.kind === 'mislabelled') {
    if (check.removed) report.removed += 1;
  } else if (check.result.started) {
    report.started += 1;
    log.info({ job: record.name }, 'started a waiting or interrupted runner job');
  } else if (check.result.cancelled) {
    report.removed += 1;
  } else {
    report.waiting += 1;
    if (check.result.forGitHub) report.waitingForGitHub += 1;
    return check.result.forGitHub ? 'github' : check.result.node !== undefined ? 'node' : 'cap';
  }
  return undefined;
}

/** Runners a job gets in all when each never comes up (a bad image, say): its own and two replacements. */
const START_ATTEMPTS = 3;

/** Whether the profile of a record's job would run the image its runner ran, were it started now. */
async function sameImage(deps: HandlerDeps, record: RunnerRecord): Promise<boolean> {
  const profile = profileForRecord(deps.config.profiles, record.jobLabels);
  return runnerImageOf(profile, await releaseFor(deps, profile, record)) === record.runnerImage;
}
