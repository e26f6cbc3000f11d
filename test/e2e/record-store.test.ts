/**
 * The record store's transitions as the real API server judges them, with the function's own ServiceAccount:
 * a start is conditional on the starter's claim (a JSON Patch `test` op, which the API server answers with 422
 * when it fails), so a cancellation that replaced the claim wins; a release is conditional the same way.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/load-config.js';
import { RecordConflictError } from '../../shared/errors/errors.js';
import { createKubeApi } from '../../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../../shared/kubernetes/kubeconfig-connection.js';
import { profileForRecord } from '../../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import { createKubernetesRecordStore } from '../../shared/records/kubernetes-record-store.js';
import { CANCELLED_CLAIM, newClaim } from '../../shared/records/record-schema.js';
import type { RecordStore } from '../../shared/records/record-store.js';
import { ensureNamespace, kubectl, serviceAccountKubeconfig } from './support/cluster.js';

// The runners' namespace; the function's ServiceAccount lives in its own (knative/rbac.yaml).
const NAMESPACE = 'github-runner-jobs';
const ACCOUNT_NAMESPACE = 'github-runners';
const rbacManifest = readFileSync(fileURLToPath(new URL('../../knative/rbac.yaml', import.meta.url)), 'utf8');
const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', RUNNER_MODE: 'standard', NAMESPACE });
let store: RecordStore;

const fieldsOf = (jobId: number) => ({
  owner: 'octo-org',
  repo: 'app',
  jobId,
  runId: 1,
  runAttempt: 1,
  deliveryId: `d-${jobId}`,
  jobLabels: ['self-hosted'],
});

beforeAll(() => {
  ensureNamespace(ACCOUNT_NAMESPACE);
  kubectl(['apply', '-f', '-'], rbacManifest);
  const kubeconfig = serviceAccountKubeconfig(
    mkdtempSync(join(tmpdir(), 'kar-e2e-')),
    ACCOUNT_NAMESPACE,
    'kube-actions-runner',
  );
  store = createKubernetesRecordStore(createKubeApi(kubeconfigConnection([kubeconfig])), NAMESPACE);
});

describe('startRecord on the real API server', () => {
  it('starts a record while the claim is the starter’s, and writes when', async () => {
    const claim = newClaim(30, Date.now());
    const fields = fieldsOf(9_100_000_001);
    const profile = profileForRecord(config.profiles, fields.jobLabels);
    const created = await store.createRecord(buildRecordJob(config, profile, fields, claim));
    expect(created.created).toBe(true);
    const startedAt = Date.now();
    await store.startRecord('runner-9100000001', claim, startedAt);
    const record = await store.getRecord('runner-9100000001');
    expect(record).toMatchObject({ state: 'started', startedAt, claim: undefined });
    await store.deleteRecord('runner-9100000001');
  });

  it('refuses the start once a cancellation replaced the claim: the API server answers the failed test', async () => {
    const claim = newClaim(30, Date.now());
    const fields = fieldsOf(9_100_000_002);
    const profile = profileForRecord(config.profiles, fields.jobLabels);
    await store.createRecord(buildRecordJob(config, profile, fields, claim));
    // The claim is conditional on the resourceVersion, and the Job controller writes a new Job's status (its
    // Suspended condition) as we go: a conflict is answered by reading again, as the completed handler does.
    let cancelled = false;
    for (let attempt = 0; attempt < 5 && !cancelled; attempt += 1) {
      const record = await store.getRecord('runner-9100000002');
      cancelled = await store.claimRecord(record as NonNullable<typeof record>, CANCELLED_CLAIM);
    }
    expect(cancelled).toBe(true);
    const error = await store.startRecord('runner-9100000002', claim, Date.now()).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(RecordConflictError);
    expect((await store.getRecord('runner-9100000002'))?.state).toBe('queued');
    await store.deleteRecord('runner-9100000002');
    const gone = await store.startRecord('runner-9100000002', claim, Date.now()).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(RecordConflictError);
  });

  it('lets a release sent late go by: it releases only its own claim, never the one held now', async () => {
    const first = newClaim(30, Date.now());
    const fields = fieldsOf(9_100_000_003);
    const profile = profileForRecord(config.profiles, fields.jobLabels);
    await store.createRecord(buildRecordJob(config, profile, fields, first));
    // The first holder's claim expired and another took the record over; then the first one's release arrives.
    const second = newClaim(30, Date.now());
    let taken = false;
    for (let attempt = 0; attempt < 5 && !taken; attempt += 1) {
      const record = await store.getRecord('runner-9100000003');
      taken = await store.claimRecord(record as NonNullable<typeof record>, second);
    }
    expect(taken).toBe(true);
    await store.releaseClaim('runner-9100000003', first);
    expect((await store.getRecord('runner-9100000003'))?.claim).toEqual(second);
    await store.releaseClaim('runner-9100000003', second);
    expect((await store.getRecord('runner-9100000003'))?.claim).toBeUndefined();
    await store.deleteRecord('runner-9100000003');
  });
});

describe('delivery marks on the real API server, with the function’s own ServiceAccount', () => {
  it('are written, moved forward, never moved back, and keep a look begun until it ends', async () => {
    const source = `octo-org/app#${Date.now()}`;
    expect(await store.readDeliveryMark(source)).toBeUndefined();
    await store.writeDeliveryMark(source, { since: '2026-12-01T10:00:00Z' });
    const scan = { cursor: 'v1_2026-12-01T10:59:00Z_123', top: '2026-12-01T11:05:00Z' };
    await store.writeDeliveryMark(source, { since: '2026-12-01T10:00:00Z', scan });
    expect(await store.readDeliveryMark(source)).toEqual({ since: '2026-12-01T10:00:00Z', scan });
    await store.writeDeliveryMark(source, { since: '2026-12-01T11:00:00Z' });
    expect(await store.readDeliveryMark(source)).toEqual({ since: '2026-12-01T11:00:00Z' });
    // A pass that listed earlier and finishes later must not undo what a newer pass wrote.
    await store.writeDeliveryMark(source, { since: '2026-12-01T10:30:00Z' });
    expect(await store.readDeliveryMark(source)).toEqual({ since: '2026-12-01T11:00:00Z' });
  });
});

describe('noteOutdated on the real API server', () => {
  it("writes why on the record as the function's ServiceAccount; a missing record is not an error", async () => {
    const fields = fieldsOf(9_100_000_071);
    const profile = profileForRecord(config.profiles, fields.jobLabels);
    await store.createRecord(buildRecordJob(config, profile, fields));
    await store.noteOutdated('runner-9100000071', 'GitHub refused the runner of this image');
    expect(await store.getRecord('runner-9100000071')).toMatchObject({
      outdatedNoted: true,
      profile: 'default',
    });
    await store.deleteRecord('runner-9100000071');
    await expect(store.noteOutdated('runner-9100000071', 'gone')).resolves.toBeUndefined();
  });
});
