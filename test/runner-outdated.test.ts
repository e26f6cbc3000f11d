/**
 * A runner GitHub refuses for its version exits 7 (ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1), and its
 * Job fails by the pod failure policy: reconcile notes it, counts it and never replaces it. Any other failure is a
 * runner that died, and is replaced. The container's other exits follow run.sh's contract (see each test).
 */
import { afterEach, describe, expect, it } from 'vitest';
import { RUNNER_MODES } from '../shared/config/runner-modes.js';
import { buildRunnerJob } from '../shared/records/build-runner-job.js';
import { RECORD_ANNOTATIONS } from '../shared/records/record-schema.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';
import { profileOf } from './support/profiles.js';

const TOKEN = 'reconcile-token-0123';
const JOB = 'runner-12877621891';
let h: AppHarness;

let opened: AppHarness | undefined;

afterEach(async () => {
  if (opened === undefined) return;
  expect(opened.github.violations).toEqual([]);
  await opened.close();
  opened = undefined;
});

async function started() {
  h = await startAppHarness({ RECONCILE_TOKEN: TOKEN });
  opened = h;
  const payload = queuedPayload({ jobId: 12877621891 });
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
  expect((await h.app.request('/webhook', { method: 'POST', headers, body })).status).toBe(200);
  expect(h.kubernetes.jobs.get(JOB)?.spec?.suspend).toBe(false);
}

async function reconcile(): Promise<Record<string, unknown>> {
  const response = await h.app.request('/reconcile', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}

const live = () => h.github.runners.filter((runner) => !runner.deleted).map((runner) => runner.name);

describe('the runner Job', () => {
  it.each(RUNNER_MODES)('%s: the runner exits 7 when refused, and exit 7 fails the Job', (mode) => {
    const job = buildRunnerJob({
      profile: profileOf(mode),
      secretName: 's',
      namespace: 'default',
      ttlSecondsAfterFinished: 3600,
      suspend: true,
      owner: 'o',
      repo: 'r',
      jobId: 1,
      runId: 1,
      runAttempt: 1,
      deliveryId: 'd',
      jobLabels: ['self-hosted'],
    });
    const pod = job.spec?.template.spec;
    const runner = pod?.containers.find((container) => container.name === 'runner');
    expect(runner?.env).toContainEqual({
      name: 'ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE',
      value: '1',
    });
    expect(pod?.restartPolicy).toBe('Never');
    expect(job.spec?.podFailurePolicy?.rules).toEqual([
      { action: 'FailJob', onExitCodes: { containerName: 'runner', operator: 'In', values: [7] } },
    ]);
  });
});

describe('reconcile and the exit code of a runner', () => {
  it('7 (GitHub refused its version): noted on the record, counted once, logged with the fix, never replaced', async () => {
    await started();
    h.kubernetes.failJob(JOB, 7);
    expect(await reconcile()).toMatchObject({ outdated: 1, died: 0, replaced: 0 });
    const job = h.kubernetes.jobs.get(JOB);
    expect(job?.metadata.annotations).toMatchObject({
      [RECORD_ANNOTATIONS.outdated]: expect.stringMatching(
        /refused the runner of .+ for its version.*pin a newer runner image/,
      ),
    });
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        job: JOB,
        msg: expect.stringContaining("pin a newer runner image or follow GitHub's releases"),
      }),
    );
    // Noted once: later passes neither count it again nor replace it.
    expect(await reconcile()).toMatchObject({ outdated: 0, died: 0, replaced: 0 });
    expect([...h.kubernetes.jobs.keys()]).toEqual([JOB]);
    expect(live()).toEqual([JOB]);
    expect(await h.metrics.registry.getSingleMetricAsString('runner_outdated_total')).toContain(
      'runner_outdated_total{profile="default"} 1',
    );
  });

  it('7 from an image its profile no longer runs (a newer one was pinned since): replaced, so its job gets a runner', async () => {
    await started();
    const container = h.kubernetes.jobs.get(JOB)?.spec?.template as {
      spec: { containers: { image: string }[] };
    };
    const current = container.spec.containers[0]?.image;
    (container.spec.containers[0] as { image: string }).image = 'ghcr.io/actions/actions-runner:2.330.0';
    h.kubernetes.failJob(JOB, 7);
    expect(await reconcile()).toMatchObject({ outdated: 0, died: 1, replaced: 1 });
    const replacement = h.kubernetes.jobs.get(`${JOB}-2`)?.spec?.template as typeof container;
    expect(replacement.spec.containers[0]?.image).toBe(current);
  });

  it('another failure (killed, OOM: 137) is a runner that died: replaced', async () => {
    await started();
    h.kubernetes.failJob(JOB, 137);
    expect(await reconcile()).toMatchObject({ outdated: 0, died: 1, replaced: 1 });
    expect([...h.kubernetes.jobs.keys()]).toEqual([`${JOB}-2`]);
    expect(await h.metrics.registry.getSingleMetricAsString('runner_outdated_total')).not.toContain(
      'profile=',
    );
  });

  it('0 (done; run.sh also exits 0 for 1 terminated, 5 session conflict and unknown codes): left alone', async () => {
    await started();
    h.kubernetes.completeJob(JOB);
    expect(await reconcile()).toMatchObject({ outdated: 0, died: 0, replaced: 0 });
    expect([...h.kubernetes.jobs.keys()]).toEqual([JOB]);
  });
});
