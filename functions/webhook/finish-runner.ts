import { randomUUID } from 'node:crypto';
import type { V1Job } from '@kubernetes/client-node';
import type { Config } from '../../shared/config/load-config.js';
import { UpstreamError } from '../../shared/errors/errors.js';
import type { GitHubClient, JitRunner } from '../../shared/github/github-client.js';
import type { Claim, RunnerRecord } from '../../shared/kubernetes/runner-record.js';
import type { RunnerStore } from '../../shared/kubernetes/runner-store.js';
import type { Logger } from '../../shared/log/create-logger.js';
import type { Metrics } from '../../shared/metrics/create-metrics.js';
import { buildJitSecret } from '../../shared/modes/build-jit-secret.js';
import { buildRunnerJob, runnerJobName, runnerLabels } from '../../shared/modes/build-runner-job.js';
import { type RecordFields, recordFieldsOf } from '../../shared/modes/record-annotations.js';
import { type RunnerProfile, selectProfile } from '../../shared/profiles/runner-profile.js';
import type { Deadline } from '../../shared/retry/with-retries.js';

/** What the use cases are built from. Every client is injected. */
export interface HandlerDeps {
  readonly config: Config;
  readonly github: GitHubClient;
  readonly runners: RunnerStore;
  readonly metrics: Metrics;
  /** The clock, injectable for tests. */
  readonly now?: () => number;
}

/** A new claim for this process, valid for the configured claim TTL. */
export function newClaim(deps: HandlerDeps): Claim {
  return { id: randomUUID(), until: (deps.now ?? Date.now)() + deps.config.claimTtlSeconds * 1000 };
}

/** Time for handling one delivery: GitHub gives 10 s, and the answer must travel back within them. */
export const DELIVERY_BUDGET_MS = 8000;

/** The runner's working folder, relative to its install directory (GitHub's default). */
const WORK_FOLDER = '_work';

/**
 * Finishes a claimed record: registers the JIT runner, stores its config in a Secret owned by the Job, and resumes
 * the Job. On failure the claim is released and the record stays, suspended, for a redelivery or reconcile.
 */
export async function finishRunner(
  deps: HandlerDeps,
  record: RunnerRecord,
  log: Logger,
  deadline: Deadline,
): Promise<StartResult> {
  const { config, runners, metrics } = deps;
  let slotsTaken = false;
  try {
    const full = await takeSlots(deps, record, deadline);
    if (full !== undefined) {
      // Over a cap the record waits, unclaimed, and starts when a runner finishes (completed event or reconcile).
      await runners.releaseClaim(record.name, deadline);
      return { started: false, reason: full };
    }
    slotsTaken = true;
    const runner = await registerRunner(deps, record, log, deadline);
    const secret = await runners.createSecret(
      buildJitSecret({
        namespace: config.namespace,
        job: { name: record.name, uid: record.uid },
        labels: runnerLabels(record),
        encodedJitConfig: runner.encodedJitConfig,
      }),
      deadline,
    );
    if (secret === 'exists') {
      // An interrupted attempt left a Secret whose config may belong to a registration just replaced; a pod
      // started on it could never connect. Reset the record: delete the Job (the garbage collector takes the
      // Secret with it) and the new registration, and record the job anew, suspended and unclaimed, so that a
      // redelivery or reconcile starts over. The record must outlive the reset: another delivery of this job
      // may already have been answered 2xx on the strength of it. So the reset is marked first, apart from the
      // Job: if it is cut short between the delete and the create (the API server failing, the process killed),
      // reconcile makes the record again from the mark.
      await runners.markReset(record, deadline);
      await deps.github.deleteRunner(record, runner.runnerId, deadline);
      await runners.deleteJob(record.name, deadline);
      // Only a live record lets the mark go; otherwise it stays, and reconcile makes the record once it can.
      if ((await remakeRecord(deps, record, deadline)) === undefined) {
        throw new UpstreamError('kubernetes', 'the reset runner job could not be made again yet', 409);
      }
      await runners.clearResetMark(record.jobId, deadline).catch((clearError: unknown) => {
        log.warn({ job: record.name, err: clearError }, 'could not clear the reset mark; reconcile will');
      });
      throw new UpstreamError(
        'kubernetes',
        'an interrupted attempt left a JIT Secret; the runner job was reset',
        409,
      );
    }
    await runners.resumeJob(record.name, deadline);
    metrics.runnerJobsCreated.inc({ owner: record.owner, repo: record.repo });
    return { started: true, runner };
  } catch (error) {
    if (slotsTaken) {
      await runners.releaseSlots(record.name, deadline).catch((releaseError: unknown) => {
        log.warn({ job: record.name, err: releaseError }, 'could not free the runner slots');
      });
    }
    await runners.releaseClaim(record.name, deadline).catch((releaseError: unknown) => {
      log.warn({ job: record.name, err: releaseError }, 'could not release the claim on the runner job');
    });
    throw error;
  }
}

/**
 * Records a job anew, suspended and unclaimed: the live record, and whether this call made it. `undefined` when
 * "already exists" has no live record behind it: the old Job still going away, or a conflict that was not one.
 */
export async function remakeRecord(
  deps: HandlerDeps,
  fields: RecordFields,
  deadline: Deadline,
): Promise<{ record: RunnerRecord; made: boolean } | undefined> {
  const { config, runners } = deps;
  const result = await runners.createJob(
    buildRecordJob(config, profileFor(config, fields.jobLabels), fields),
    deadline,
  );
  if (result.created) return { record: result.record, made: true };
  const existing = await runners.getRecord(runnerJobName(fields.jobId), deadline);
  return existing === undefined || existing.deleting ? undefined : { record: existing, made: false };
}

/** Whether the runner was started, or waits for capacity (and why). */
export type StartResult =
  | { readonly started: true; readonly runner: JitRunner }
  | { readonly started: false; readonly reason: string };

/**
 * Takes the runner's slots under MAX_RUNNERS and its profile's maxRunners. Returns why not when a cap is full
 * (having taken nothing), or undefined with every slot held.
 */
async function takeSlots(
  deps: HandlerDeps,
  record: RunnerRecord,
  deadline: Deadline,
): Promise<string | undefined> {
  const profile = profileFor(deps.config, record.jobLabels);
  const caps: [scope: string, capacity: number, reason: string][] = [];
  if (deps.config.maxRunners !== undefined)
    caps.push(['all', deps.config.maxRunners, `MAX_RUNNERS=${deps.config.maxRunners} runners are running`]);
  if (profile.maxRunners !== undefined) {
    caps.push([
      `profile-${profile.name}`,
      profile.maxRunners,
      `profile ${profile.name} has its ${profile.maxRunners} runners running`,
    ]);
  }
  for (const [scope, capacity, reason] of caps) {
    if (!(await deps.runners.acquireSlot(scope, capacity, record, deadline))) {
      await deps.runners.releaseSlots(record.name, deadline);
      return `waiting for capacity: ${reason}`;
    }
  }
  return undefined;
}

/** The suspended Job that records a queued job with the profile chosen for it, optionally claimed. */
export function buildRecordJob(
  config: Config,
  profile: RunnerProfile,
  fields: RecordFields,
  claim?: Claim,
): V1Job {
  const name = runnerJobName(fields.jobId);
  return buildRunnerJob({
    profile,
    namespace: config.namespace,
    ttlSecondsAfterFinished: config.jobTtlSeconds,
    secretName: name,
    ...recordFieldsOf(fields),
    ...(claim === undefined ? {} : { claim }),
    suspend: true,
  });
}

/** The profile for a job's labels; a record whose profile was removed since is served by the first profile. */
export function profileFor(config: Config, labels: readonly string[]): RunnerProfile {
  return selectProfile(config.profiles, labels) ?? (config.profiles[0] as RunnerProfile);
}

/**
 * Registers the JIT runner. A 409 means a registration of this name survives from an interrupted attempt (the Job
 * is still suspended, so no pod ever used it): delete that stale, idle registration and try once more.
 */
async function registerRunner(deps: HandlerDeps, record: RunnerRecord, log: Logger, deadline: Deadline) {
  const request = {
    name: record.name,
    runnerGroupId: deps.config.runnerGroupId,
    labels: record.jobLabels,
    workFolder: WORK_FOLDER,
  };
  try {
    return await deps.github.generateJitConfig(record, request, deadline);
  } catch (error) {
    if (!(error instanceof UpstreamError && error.status === 409)) throw error;
    const stale = await deps.github.findRunner(record, record.name, deadline);
    if (stale === undefined || stale.busy) throw error;
    log.info(
      { job: record.name, runnerId: stale.id },
      'deleting a stale runner registration of an interrupted attempt',
    );
    await deps.github.deleteRunner(record, stale.id, deadline);
    return deps.github.generateJitConfig(record, request, deadline);
  }
}

/**
 * Removes a runner that will never run: its registration (unless a job is running on it) and its Job (the
 * Secret goes with it). Returns false, and leaves everything, when the runner is busy.
 */
export async function removeRunner(
  deps: HandlerDeps,
  record: RunnerRecord,
  deadline: Deadline,
): Promise<boolean> {
  const registered = await deps.github.findRunner(record, record.name, deadline);
  if (registered?.busy) return false;
  if (registered) await deps.github.deleteRunner(record, registered.id, deadline);
  await deps.runners.deleteJob(record.name, deadline);
  await deps.runners.releaseSlots(record.name, deadline);
  return true;
}
