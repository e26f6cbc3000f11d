/**
 * Cost attribution on runner pods (issue #30): OpenCost and Kubecost aggregate by pod label, so a runner pod carries
 * its workflow, job name, run and attempt, sanitized in labels and in full in annotations, and only as GitHub's
 * answer for the job gives them.
 */
import type { V1Job } from '@kubernetes/client-node';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { costAttribution } from '../shared/records/cost-attribution.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

let h: AppHarness;

beforeEach(async () => {
  h = await startAppHarness();
});
afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

describe('a runner pod names the run it bills', () => {
  it("carries GitHub's workflow, job name, run and attempt, not the payload's", async () => {
    const payload = queuedPayload({ jobId: 5150, owner: 'octo', repo: 'app' });
    h.github.addJob(payload.repository.full_name, {
      ...payload.workflow_job,
      name: 'build / linux (x64, node 24)',
      workflow_name: 'CI: nightly ✨ — release train',
      run_id: 777,
      run_attempt: 2,
    });
    // The payload says otherwise: a tenant's own payload cannot bill its runs to another workflow or run.
    Object.assign(payload.workflow_job, { name: 'cheap', workflow_name: 'other', run_id: 1, run_attempt: 1 });
    const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
    expect((await h.app.request('/webhook', { method: 'POST', headers, body })).status).toBe(200);

    const job = h.kubernetes.jobs.get('runner-5150') as V1Job | undefined;
    const pod = job?.spec?.template.metadata;
    expect(pod?.labels).toMatchObject({
      'kube-actions-runner.dev/owner': 'octo',
      'kube-actions-runner.dev/repo': 'app',
      'kube-actions-runner.dev/job-id': '5150',
      'kube-actions-runner.dev/profile': 'default',
      'kube-actions-runner.dev/workflow': 'CI__nightly_____release_train',
      'kube-actions-runner.dev/job-name': 'build___linux__x64__node_24',
      'kube-actions-runner.dev/run-id': '777',
      'kube-actions-runner.dev/run-attempt': '2',
    });
    expect(pod?.annotations).toEqual({
      'kube-actions-runner.dev/repository': 'octo/app',
      'kube-actions-runner.dev/workflow': 'CI: nightly ✨ — release train',
      'kube-actions-runner.dev/job-name': 'build / linux (x64, node 24)',
      'kube-actions-runner.dev/run-id': '777',
      'kube-actions-runner.dev/run-attempt': '2',
    });
  });
});

describe('costAttribution', () => {
  const fields = {
    owner: 'octo',
    repo: 'app',
    jobId: 1,
    runId: 9,
    runAttempt: 1,
    deliveryId: 'd',
    jobLabels: ['self-hosted'],
    workflow: 'w'.repeat(100),
    jobName: '--build--',
  };

  it('keeps label values valid (63 characters, alphanumeric at both ends), the full text in annotations', () => {
    const { labels, annotations } = costAttribution(fields);
    expect(labels['kube-actions-runner.dev/workflow']).toBe('w'.repeat(63));
    expect(labels['kube-actions-runner.dev/job-name']).toBe('build');
    expect(annotations['kube-actions-runner.dev/workflow']).toBe('w'.repeat(100));
  });

  it("gives a record made from the payload alone (GitHub's limits refused the read) no attribution", () => {
    expect(costAttribution({ ...fields, unconfirmed: true })).toEqual({ labels: {}, annotations: {} });
  });
});
