import {
  describePlatform,
  jobPlatform,
  NODE_ARCH_LABEL,
  NODE_OS_LABEL,
  platformNodeLabels,
} from '../../shared/labels/job-platform.js';
import { IMAGE_OS, runnerNodeSelector } from '../../shared/profiles/profile-placement.js';
import { profileForRecord } from '../../shared/profiles/runner-profile.js';
import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { Deadline } from '../../shared/retry/with-retries.js';
import type { HandlerDeps } from './deps.js';

/** The machine a record's runner waits for, and why, to answer and count. */
export interface NodeWait {
  readonly os: string;
  readonly arch: string;
  readonly reason: string;
}

/**
 * Whether a record's runner must wait for a node: only when its job asks for an OS or architecture, the function
 * may list nodes, and no node has them. Started anyway, its pod could never be scheduled, and its registration
 * would sit idle; so the record stays queued (as under a cap), and a later delivery or reconcile starts it once such
 * a node exists. When nodes cannot be read (no ClusterRole), it starts as it always has: the pod's node selector
 * still keeps it off a node of the wrong kind.
 */
export async function nodeToWaitFor(
  deps: HandlerDeps,
  record: RunnerRecord,
  deadline: Deadline,
): Promise<NodeWait | undefined> {
  if (deps.nodes === undefined) return undefined;
  const of = jobPlatform(record.jobLabels);
  if ('problem' in of || (of.platform.os === undefined && of.platform.arch === undefined)) return undefined;
  const selector = runnerNodeSelector(profileForRecord(deps.config.profiles, record.jobLabels), of.platform);
  const os = selector[NODE_OS_LABEL] ?? IMAGE_OS;
  const arch = selector[NODE_ARCH_LABEL];
  // A cluster that runs this function has linux nodes: only an architecture, or another OS, is worth a question.
  if (arch === undefined && os === IMAGE_OS) return undefined;
  const wanted = { os, ...(arch === undefined ? {} : { arch }) };
  if ((await deps.nodes.hasNode(platformNodeLabels(wanted), deadline)) !== false) return undefined;
  return {
    os,
    arch: arch ?? '',
    reason: `waiting for a node: no node in the cluster has ${describePlatform(wanted)}`,
  };
}
