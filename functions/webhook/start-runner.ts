import {
  GitHubLimitError,
  PermanentUpstreamError,
  RecordConflictError,
  UpstreamError,
} from '../../shared/errors/errors.js';
import type { JitRunner } from '../../shared/github/github-client.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { buildJitSecret } from '../../shared/modes/build-jit-secret.js';
import { profileForRecord } from '../../shared/profiles/runner-profile.js';
import { CANCELLED_CLAIM, type Claim, runnerLabels } from '../../shared/records/record-schema.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';
import { letClaimGo, undoDeadline } from './let-claim-go.js';
import { type NodeWait, nodeToWaitFor } from './node-to-wait-for.js';
import { resetRecord } from './reset-record.js';

/** The runner's working folder, relative to its install directory (GitHub's default). */
const WORK_FOLDER = '_work';

/** Whether the runner was started, waits (for capacity, a node or GitHub), or was cancelled while starting (and why). */
export type StartResult =
  | { readonly started: true; readonly runner: JitRunner }
  | {
      readonly started: false;
      readonly cancelled: boolean;
      readonly reason: string;
      /** Set when it waits because no node has the machine its job asks for. */
      readonly node?: NodeWait;
      /** Waiting for GitHub (a paused credential, a spent budget) rather than for capacity. */
      readonly forGitHub?: boolean;
    };

/**
 * Starts the runner of a queued record this process has claimed with `claim` (queued -> started): takes its slots,
 * registers the JIT runner, stores its config in a Secret owned by the Job, and resumes the Job, only if the claim
 * is still ours. Over a cap the record stays queued, unclaimed. Cancelled meanwhile (the completed handler replaced
 * the claim), it removes the registration and the record. On any other failure the claim is released and the
 * record stays queued, for a redelivery or reconcile.
 */
export async function startRunner(
  deps: HandlerDeps,
  record: RunnerRecord,
  claim: Claim,
  log: Logger,
  deadline: Deadline,
): Promise<StartResult> {
  const { config, records, metrics } = deps;
  const now = deps.now ?? Date.now;
  let slotsTaken = false;
  try {
    // GitHub's limits first: a record that cannot be registered now takes no slot, and waits unclaimed.
    const blocked = await deps.github.startBlocked(record);
    if (blocked !== undefined) {
      await records.releaseClaim(record.name, claim, deadline);
      return { started: false, cancelled: false, reason: blocked.reason, forGitHub: true };
    }
    const node = await nodeToWaitFor(deps, record, deadline);
    if (node !== undefined) {
      // No node has its machine: the record waits, unclaimed, like a record over a cap (reconcile tries again).
      await records.releaseClaim(record.name, claim, deadline);
      return { started: false, cancelled: false, reason: node.reason, node };
    }
    const full = await takeSlots(deps, record, deadline);
    if (full !== undefined) {
      // Over a cap the record waits, unclaimed, and starts when a runner finishes (completed event or reconcile).
      await records.releaseClaim(record.name, claim, deadline);
      return { started: false, cancelled: false, reason: full };
    }
    slotsTaken = true;
    // Deleting a stale registration and resetting the record are safe only while no one else may hold the record:
    // a claim lapses, and another delivery may take the record over and start it (its runner is then no stale one).
    const holdClaim = () => {
      if (now() >= claim.until) {
        throw new RecordConflictError('the claim lapsed while the runner was being started');
      }
    };
    const runner = await registerRunner(deps, record, holdClaim, log, deadline);
    metrics.queuedToRegistered.observe(Math.max(0, now() - record.createdAt) / 1000);
    const secret = await records.createJitSecret(
      buildJitSecret({
        namespace: config.namespace,
        job: { name: record.name, uid: record.uid },
        labels: runnerLabels(record),
        encodedJitConfig: runner.encodedJitConfig,
      }),
      deadline,
    );
    if (secret === 'exists') {
      if (now() >= claim.until) {
        // Not ours to reset any more; the registration just made is ours alone (no pod has its config).
        await deps.github.deleteRunner(record, runner.runnerId, deadline);
        holdClaim();
      }
      await resetRecord(deps, record, runner, log, deadline);
    }
    const startedAt = now();
    try {
      await records.startRecord(record.name, claim, startedAt, deadline);
    } catch (error) {
      if (!(error instanceof RecordConflictError)) throw error;
      const current = await records.getRecord(record.name, deadline);
      // Our own start went through and only its answer was lost (a retry then met its own change): started. Its
      // runner may even have finished already (the record then reads finished): the start is still ours.
      const ours = current?.state === 'started' || current?.state === 'finished';
      if (ours && current?.startedAt === startedAt) {
        metrics.runnerJobsCreated.inc({ owner: record.owner, repo: record.repo });
        return { started: true, runner };
      }
      // The record changed under us: a cancellation replaced our claim, someone took it over, or it is gone.
      // Nothing was started, so the registration just made would wait for ever with no pod: delete it.
      await deps.github.deleteRunner(record, runner.runnerId, deadline);
      if (current === undefined || current.state === 'removed' || current.claim?.id === CANCELLED_CLAIM.id) {
        await records.deleteRecord(record.name, deadline);
        await records.releaseSlots(record.name, deadline);
        slotsTaken = false;
        log.info(
          { job: record.name },
          'the job was cancelled while its runner was being started; removed it',
        );
        return {
          started: false,
          cancelled: true,
          reason: 'job was cancelled while its runner was being started',
        };
      }
      throw error;
    }
    metrics.runnerJobsCreated.inc({ owner: record.owner, repo: record.repo });
    return { started: true, runner };
  } catch (error) {
    if (error instanceof PermanentUpstreamError && error.upstream === 'github') {
      // GitHub refused the registration in a way asking again cannot change (a 422 for labels it will not take,
      // say): keep no record for reconcile to retry on every pass. The answer says why (4xx), and it is counted.
      await records.deleteRecord(record.name, deadline).catch((deleteError: unknown) => {
        log.warn({ job: record.name, err: deleteError }, 'could not remove a runner job GitHub refused');
      });
      metrics.runnerJobsRefused.inc({ owner: record.owner, repo: record.repo, status: String(error.status) });
    }
    const undo = undoDeadline();
    if (slotsTaken) {
      await records.releaseSlots(record.name, undo).catch((releaseError: unknown) => {
        log.warn({ job: record.name, err: releaseError }, 'could not free the runner slots');
      });
    }
    await letClaimGo(deps, record.name, claim, log, undo);
    // GitHub's limits refused a call: the record waits, unclaimed, and is started as the budget allows.
    if (error instanceof GitHubLimitError) {
      return { started: false, cancelled: false, reason: error.reason, forGitHub: true };
    }
    throw error;
  }
}

/** A concurrency cap a record's runner counts against: its scope (slot names), capacity, and why it is full. */
export type Cap = readonly [scope: string, capacity: number, reason: string];

/** The caps a record's runner counts against: MAX_RUNNERS, and its profile's maxRunners. */
export function capsOf(config: HandlerDeps['config'], record: RunnerRecord): Cap[] {
  const profile = profileForRecord(config.profiles, record.jobLabels);
  const caps: Cap[] = [];
  if (config.maxRunners !== undefined)
    caps.push(['all', config.maxRunners, `MAX_RUNNERS=${config.maxRunners} runners are running`]);
  if (profile.maxRunners !== undefined) {
    caps.push([
      `profile-${profile.name}`,
      profile.maxRunners,
      `profile ${profile.name} has its ${profile.maxRunners} runners running`,
    ]);
  }
  return caps;
}

/**
 * Takes the runner's slots under its caps. Returns why not when a cap is full (having taken nothing), or undefined
 * with every slot held.
 */
async function takeSlots(
  deps: HandlerDeps,
  record: RunnerRecord,
  deadline: Deadline,
): Promise<string | undefined> {
  for (const [scope, capacity, reason] of capsOf(deps.config, record)) {
    if (!(await deps.records.acquireSlot(scope, capacity, record, deadline))) {
      await deps.records.releaseSlots(record.name, deadline);
      return `waiting for capacity: ${reason}`;
    }
  }
  return undefined;
}

/**
 * Registers the JIT runner. A 409 means a registration of this name survives from an interrupted attempt (the Job
 * is still suspended, so no pod ever used it): delete that stale, idle registration and try once more.
 */
async function registerRunner(
  deps: HandlerDeps,
  record: RunnerRecord,
  holdClaim: () => void,
  log: Logger,
  deadline: Deadline,
) {
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
    holdClaim();
    log.info(
      { job: record.name, runnerId: stale.id },
      'deleting a stale runner registration of an interrupted attempt',
    );
    await deps.github.deleteRunner(record, stale.id, deadline);
    return deps.github.generateJitConfig(record, request, deadline);
  }
}
