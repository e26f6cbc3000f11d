/**
 * The machine a job asks for, through the whole app: the pod's node selection comes from GitHub's answer (not the
 * payload), jobs for an OS the images cannot run are ignored with the reason, and a job whose architecture no node
 * offers waits (202, counted) until reconcile finds such a node, when nodes can be read. Without the permission to
 * list nodes, the job starts as before, its selector set.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { type AppHarness, addQueuedJob, deliverSigned, startAppHarness } from './support/app-harness.js';

let h: AppHarness;
afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

const AMD64_NODE = { name: 'node-a', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'amd64' } };
const ARM64_NODE = { name: 'node-b', labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' } };

const selectorOf = (name: string) =>
  (h.kubernetes.jobs.get(name)?.spec as { template: { spec: { nodeSelector?: Record<string, string> } } })
    ?.template.spec.nodeSelector;
const suspended = (name: string) => h.kubernetes.jobs.get(name)?.spec?.suspend;
const waitingMetric = async () =>
  (await h.metrics.registry.getSingleMetricAsString('runner_jobs_waiting_for_node_total'))
    .split('\n')
    .filter((line) => !line.startsWith('#') && line !== '');

describe('node selection from the job GitHub describes', () => {
  it("places an arm64 job on arm64 nodes, from GitHub's labels rather than the payload's", async () => {
    h = await startAppHarness();
    const payload = addQueuedJob(h, { jobId: 301, labels: ['self-hosted', 'linux', 'x64'] });
    // GitHub's answer when the handler reads the job is what the pod is built from.
    h.github.addJob(payload.repository.full_name, {
      ...payload.workflow_job,
      labels: ['self-hosted', 'linux', 'ARM64'],
    });
    const answer = await deliverSigned(h, payload);
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'created' } });
    expect(selectorOf('runner-301')).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' });
  });

  it.each([
    [['self-hosted', 'windows', 'x64'], 'kubernetes.io/os=windows'],
    [['self-hosted', 'macOS', 'ARM64'], 'kubernetes.io/os=darwin'],
  ])('answers %j 200 ignored with the reason, and makes nothing', async (labels, machine) => {
    h = await startAppHarness();
    const answer = await deliverSigned(h, addQueuedJob(h, { jobId: 302, labels }));
    expect(answer.status).toBe(200);
    expect(answer.body).toMatchObject({ outcome: 'ignored' });
    expect(answer.body.reason).toContain(`job asks for ${machine}, which the runner images do not run`);
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(h.github.runners).toHaveLength(0);
  });

  it('serves a windows job when a profile places it there itself', async () => {
    const profiles = [
      'profiles:',
      '  - name: windows',
      '    match: windows',
      '    image: registry.example/windows-runner:1',
      '    nodeSelector: { kubernetes.io/os: windows }',
      '  - name: default',
    ].join('\n');
    h = await startAppHarness({ RUNNER_PROFILES: profiles });
    const answer = await deliverSigned(
      h,
      addQueuedJob(h, { jobId: 303, labels: ['self-hosted', 'Windows'] }),
    );
    expect(answer.body).toMatchObject({ outcome: 'created' });
    expect(selectorOf('runner-303')).toEqual({ 'kubernetes.io/os': 'windows' });
  });
});

describe('an architecture no node offers', () => {
  it('waits (202) with the reason, is counted once, and starts at reconcile once such a node exists', async () => {
    let clock = Date.now();
    h = await startAppHarness({ RECONCILE_TOKEN: 't' }, { now: () => clock });
    h.kubernetes.setNodes([AMD64_NODE]);
    const arm = addQueuedJob(h, { jobId: 311, labels: ['self-hosted', 'linux', 'arm64'] });
    const answer = await deliverSigned(h, arm);
    expect(answer).toEqual({
      status: 202,
      body: {
        outcome: 'waiting',
        job: 'runner-311',
        reason:
          'waiting for a node: no node in the cluster has kubernetes.io/os=linux, kubernetes.io/arch=arm64',
      },
    });
    // Recorded, not started: no registration waits idle for a pod that cannot be scheduled.
    expect(suspended('runner-311')).toBe(true);
    expect(h.github.runners).toHaveLength(0);
    // A redelivery does not count the job again.
    expect((await deliverSigned(h, arm)).status).toBe(202);
    expect(await waitingMetric()).toEqual(['runner_jobs_waiting_for_node_total{os="linux",arch="arm64"} 1']);

    // An x64 job is not held back by it.
    const x64 = await deliverSigned(
      h,
      addQueuedJob(h, { jobId: 312, labels: ['self-hosted', 'linux', 'x64'] }),
    );
    expect(x64.body).toMatchObject({ outcome: 'created' });

    const reconcile = async () =>
      (await h.app.request('/reconcile', { method: 'POST', headers: { authorization: 'Bearer t' } })).json();
    expect(await reconcile()).toMatchObject({ started: 0, waiting: 1 });
    expect(suspended('runner-311')).toBe(true);

    h.kubernetes.setNodes([AMD64_NODE, ARM64_NODE]);
    // What the function knew of the nodes is kept a while (15 s): a burst of deliveries asks once.
    clock += 16_000;
    expect(await reconcile()).toMatchObject({ started: 1, waiting: 0 });
    expect(suspended('runner-311')).toBe(false);
    expect(selectorOf('runner-311')).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' });
    expect(h.github.runners).toHaveLength(2);
  });

  it('starts as before, its selector set, when nodes may not be listed (no ClusterRole: 403)', async () => {
    h = await startAppHarness();
    const answer = await deliverSigned(h, addQueuedJob(h, { jobId: 321, labels: ['self-hosted', 'arm64'] }));
    expect(answer.body).toMatchObject({ outcome: 'created' });
    expect(h.kubernetes.requestCounts.get('GET nodes')).toBe(1);
    expect(selectorOf('runner-321')).toEqual({ 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': 'arm64' });
  });

  it('asks nothing about nodes for a job that names no architecture', async () => {
    h = await startAppHarness();
    h.kubernetes.setNodes([ARM64_NODE]);
    const answer = await deliverSigned(h, addQueuedJob(h, { jobId: 331, labels: ['self-hosted', 'linux'] }));
    expect(answer.body).toMatchObject({ outcome: 'created' });
    expect(h.kubernetes.requestCounts.get('GET nodes')).toBeUndefined();
  });
});
