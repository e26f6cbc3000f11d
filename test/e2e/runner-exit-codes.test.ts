/**
 * The runner Job's pod failure policy against the real Job controller (kube-controller-manager): a runner pod
 * whose runner container exits 7 (GitHub refused its version) fails the Job with the condition reconcile reads as
 * outdated; any other exit code fails it as a runner that died. The pod is kept off the kwok node (a nodeSelector
 * no node has), so that kwok does not play it to success; its status is written as the kubelet would.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildRunnerJob } from '../../shared/records/build-runner-job.js';
import { isOutdatedFailure, toRunnerRecord } from '../../shared/records/runner-record.js';
import { profileOf } from '../support/profiles.js';
import { ensureNamespace, kubectl, kubectlJson, waitFor } from './support/cluster.js';

const NAMESPACE = 'runner-exit-codes';
type Job = Parameters<typeof toRunnerRecord>[0];

beforeAll(() => ensureNamespace(NAMESPACE));
afterAll(() => {
  kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']);
});

/** Creates the runner Job as the function builds it, its pod held unscheduled. */
function createJob(jobId: number): string {
  const job = buildRunnerJob({
    profile: profileOf('standard', { nodeSelector: { 'kube-actions-runner.dev/test': 'no-such-node' } }),
    secretName: `runner-${jobId}`,
    namespace: NAMESPACE,
    ttlSecondsAfterFinished: 3600,
    suspend: false,
    owner: 'octo',
    repo: 'hello',
    jobId,
    runId: 1,
    runAttempt: 1,
    deliveryId: 'd',
    jobLabels: ['self-hosted'],
  });
  kubectl(['create', '--validate=strict', '-f', '-'], JSON.stringify(job));
  return job.metadata?.name as string;
}

/** Writes the pod's status as the kubelet does when its runner container exits with `exitCode`. */
async function exitRunner(job: string, exitCode: number): Promise<void> {
  const pod = await waitFor(`a pod of ${job}`, () => {
    const pods = kubectlJson<{ items: { metadata: { name: string } }[] }>([
      'get',
      'pods',
      '-n',
      NAMESPACE,
      '-l',
      `job-name=${job}`,
    ]).items;
    return pods[0]?.metadata.name;
  });
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const status = {
    status: {
      phase: 'Failed',
      containerStatuses: [
        {
          name: 'runner',
          image: 'ghcr.io/actions/actions-runner:2.338.0',
          imageID: '',
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode, reason: 'Error', startedAt: now, finishedAt: now } },
        },
      ],
    },
  };
  kubectl([
    'patch',
    'pod',
    pod,
    '-n',
    NAMESPACE,
    '--subresource=status',
    '--type=merge',
    '-p',
    JSON.stringify(status),
  ]);
}

async function failedJob(name: string): Promise<Job> {
  return waitFor(
    `${name} to fail`,
    () => {
      const job = kubectlJson<Job>(['get', 'job', name, '-n', NAMESPACE]);
      const failed = job.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True');
      return failed ? job : undefined;
    },
    60_000,
  );
}

describe('the runner Job on the real Job controller', () => {
  it('fails by its pod failure policy when the runner exits 7, and reconcile reads the record as outdated', async () => {
    const name = createJob(7_100_000_001);
    await exitRunner(name, 7);
    const job = await failedJob(name);
    const failed = job.status?.conditions?.find((c) => c.type === 'Failed');
    expect(failed?.reason).toBe('PodFailurePolicy');
    expect(failed?.message).toMatch(
      /^Container runner for pod runner-exit-codes\/\S+ failed with exit code 7 /,
    );
    expect(isOutdatedFailure(job)).toBe(true);
    expect(toRunnerRecord(job)).toMatchObject({
      state: 'finished',
      failed: true,
      outdated: true,
      profile: 'default',
    });
  });

  it('fails for its backoff limit on any other exit code: a runner that died, not an outdated one', async () => {
    const name = createJob(7_100_000_002);
    await exitRunner(name, 137);
    const job = await failedJob(name);
    expect(job.status?.conditions?.find((c) => c.type === 'Failed')?.reason).toBe('BackoffLimitExceeded');
    expect(toRunnerRecord(job)).toMatchObject({ state: 'finished', failed: true, outdated: false });
  });
});
