import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RecordConflictError, UpstreamError } from '../shared/errors/errors.js';
import { createKubeApi, type KubeApi } from '../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { buildJitSecret } from '../shared/modes/build-jit-secret.js';
import { buildRunnerJob } from '../shared/records/build-runner-job.js';
import { createKubernetesRecordStore } from '../shared/records/kubernetes-record-store.js';
import { CANCELLED_CLAIM, newClaim } from '../shared/records/record-schema.js';
import type { RecordStore } from '../shared/records/record-store.js';
import { deadlineIn } from '../shared/retry/with-retries.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';
import { profileOf } from './support/profiles.js';
import { tempDir } from './support/temp-dir.js';

const CLAIM = { id: 'ours', until: 4_000_000_000_000 };

const jobFor = (jobId: number) =>
  buildRunnerJob({
    profile: profileOf('standard'),
    secretName: `runner-${jobId}`,
    namespace: 'default',
    ttlSecondsAfterFinished: 300,
    owner: 'octo-org',
    repo: 'example',
    jobId,
    runId: 1,
    runAttempt: 1,
    deliveryId: 'd',
    jobLabels: ['self-hosted'],
    claim: CLAIM,
    suspend: true,
  });

describe('the Kubernetes runner store against the API stand-in', () => {
  let api: KubernetesStandIn;
  let store: RecordStore;
  let kubeApi: KubeApi;

  beforeAll(async () => {
    api = await startKubernetesStandIn();
    kubeApi = createKubeApi(kubeconfigConnection([api.writeKubeconfig(tempDir('store'))]));
    store = createKubernetesRecordStore(kubeApi, 'default');
  });
  afterAll(async () => {
    kubeApi.close();
    await api.close();
  });

  it('creates a Job once; the second create is reported as existing, not as an error', async () => {
    const first = await store.createRecord(jobFor(1));
    expect(first.created).toBe(true);
    expect(first.created && first.record.uid).toBe(api.jobs.get('runner-1')?.metadata.uid);
    expect(await store.createRecord(jobFor(1))).toEqual({ created: false });
    expect(api.jobs.size).toBe(1);
  });

  it('creates the Secret idempotently and resumes the Job', async () => {
    const uid = api.jobs.get('runner-1')?.metadata.uid ?? '';
    const secret = buildJitSecret({
      namespace: 'default',
      job: { name: 'runner-1', uid },
      labels: {},
      encodedJitConfig: 'abc',
    });
    await store.createJitSecret(secret);
    await store.createJitSecret(secret);
    expect(api.secrets.get('runner-1')?.data).toEqual({ jitconfig: Buffer.from('abc').toString('base64') });
    await store.startRecord('runner-1', CLAIM, 1_700_000_000_000);
    expect(api.jobs.get('runner-1')?.spec?.suspend).toBe(false);
    expect((await store.getRecord('runner-1'))?.startedAt).toBe(1_700_000_000_000);
  });

  it('starts a record only while the claim is still the one given: a cancellation or takeover wins', async () => {
    const created = await store.createRecord(jobFor(5));
    expect(created.created).toBe(true);
    const record = await store.getRecord('runner-5');
    expect(await store.claimRecord(record as NonNullable<typeof record>, CANCELLED_CLAIM)).toBe(true);
    const error = await store.startRecord('runner-5', CLAIM, Date.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordConflictError);
    expect(api.jobs.get('runner-5')?.spec?.suspend).toBe(true);
    await store.deleteRecord('runner-5');
  });

  it('releases only its own claim: a release sent late leaves the claim held now', async () => {
    await store.createRecord(jobFor(6));
    const record = await store.getRecord('runner-6');
    const now = newClaim(30, Date.now());
    expect(await store.claimRecord(record as NonNullable<typeof record>, now)).toBe(true);
    await store.releaseClaim('runner-6', CLAIM);
    expect((await store.getRecord('runner-6'))?.claim).toEqual(now);
    await store.releaseClaim('runner-6', now);
    expect((await store.getRecord('runner-6'))?.claim).toBeUndefined();
    await store.deleteRecord('runner-6');
  });

  it('counts only unfinished runner Jobs', async () => {
    await store.createRecord(jobFor(2));
    await store.createRecord(jobFor(3));
    expect(await store.countActive()).toBe(3);
    api.completeJob('runner-2');
    expect(await store.countActive()).toBe(2);
  });

  it('deletes a Job with its Secret, and a missing Job is no error', async () => {
    await store.deleteRecord('runner-1');
    expect(api.jobs.has('runner-1')).toBe(false);
    expect(api.secrets.has('runner-1')).toBe(false);
    await expect(store.deleteRecord('runner-1')).resolves.toBeUndefined();
  });

  it('reports API server failures as UpstreamError with the Status message', async () => {
    api.failNext('POST', 'jobs', 500, 1000);
    const error = await store.createRecord(jobFor(9), deadlineIn(500)).catch((e: unknown) => e);
    api.failNext('POST', 'jobs', 500, 0);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ upstream: 'kubernetes', status: 500 });
    expect((error as Error).message).toBe('failed to create the runner Job: HTTP 500 injected failure');
    api.failNext('PATCH', 'jobs', 404);
    await expect(store.startRecord('runner-3', CLAIM, Date.now())).rejects.toBeInstanceOf(
      RecordConflictError,
    );
  });
});
