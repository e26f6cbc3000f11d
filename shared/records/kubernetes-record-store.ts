import type { V1Job } from '@kubernetes/client-node';
import { RecordConflictError, UpstreamError } from '../errors/errors.js';
import type { KubeApi } from '../kubernetes/kube-api.js';
import type { Deadline } from '../retry/with-retries.js';
import { createDeliveryMarks } from './delivery-marks.js';
import { createNamespacedCalls, type ListOf, type NamespacedCallsOptions } from './namespaced-calls.js';
import { formatClaim, LABEL_PREFIX, RECORD_ANNOTATIONS, RUNNER_APP_LABEL } from './record-schema.js';
import type { RecordStore } from './record-store.js';
import { createResetMarks } from './reset-marks.js';
import { isFinished, toRunnerRecord } from './runner-record.js';
import { createRunnerSlots } from './runner-slots.js';

const APP_SELECTOR = Object.entries(RUNNER_APP_LABEL)
  .map(([key, value]) => `${key}=${value}`)
  .join(',');

/** A JSON Patch path segment escapes `/` as `~1`. */
const CLAIM_PATH = `/metadata/annotations/${RECORD_ANNOTATIONS.claim.replace('/', '~1')}`;
const OUTDATED_PATH = `/metadata/annotations/${RECORD_ANNOTATIONS.outdated.replace('/', '~1')}`;
const STARTED_AT_PATH = `/metadata/annotations/${RECORD_ANNOTATIONS.startedAt.replace('/', '~1')}`;

export type KubernetesRecordStoreOptions = NamespacedCallsOptions;

/** The RecordStore on the Kubernetes REST API, for one namespace: records are Jobs, slots and reset marks Leases. */
export function createKubernetesRecordStore(
  api: KubeApi,
  namespace: string,
  options: KubernetesRecordStoreOptions = {},
): RecordStore {
  const calls = createNamespacedCalls(api, namespace, options);
  const { jobs, secrets } = calls.paths;
  const patchJob = (name: string, body: unknown[]) => calls.jsonPatch(calls.named(jobs, name), body);

  async function listRunnerJobs(deadline?: Deadline, selector = APP_SELECTOR): Promise<V1Job[]> {
    const found: V1Job[] = [];
    let page: string | undefined;
    do {
      const list = await calls.call<ListOf<V1Job>>(
        'failed to list runner Jobs',
        { method: 'GET', path: jobs, query: { labelSelector: selector, limit: 500, continue: page } },
        deadline,
      );
      found.push(...list.items);
      page = list.metadata?.continue || undefined;
    } while (page !== undefined);
    return found;
  }

  return {
    async createRecord(job, deadline) {
      const created = await calls.createUnlessExists<V1Job>(
        'failed to create the runner Job',
        jobs,
        job,
        deadline,
      );
      const record = created && toRunnerRecord(created);
      return record ? { created: true, record } : { created: false };
    },
    async getRecord(name, deadline) {
      const job = await calls.unless(
        [404],
        calls.call<V1Job>(
          'failed to read the runner Job',
          { method: 'GET', path: calls.named(jobs, name) },
          deadline,
        ),
      );
      return job && toRunnerRecord(job);
    },
    async claimRecord(record, claim, deadline) {
      // Setting resourceVersion in the patch makes it conditional: the API server answers 409 if the Job changed.
      const patched = await calls.unless(
        [409, 404],
        calls.call(
          'failed to claim the runner Job',
          patchJob(record.name, [
            { op: 'replace', path: '/metadata/resourceVersion', value: record.resourceVersion },
            { op: 'add', path: CLAIM_PATH, value: formatClaim(claim) },
          ]),
          deadline,
        ),
      );
      return patched !== undefined;
    },
    async releaseClaim(name, claim, deadline) {
      // 422: the test failed, the claim is someone else's (or was released) already; 404: the record is gone.
      await calls.unless(
        [404, 422],
        calls.call(
          'failed to release the claim',
          patchJob(name, [
            { op: 'test', path: CLAIM_PATH, value: formatClaim(claim) },
            { op: 'add', path: CLAIM_PATH, value: '' },
          ]),
          deadline,
        ),
      );
    },
    async createJitSecret(secret, deadline) {
      const created = await calls.createUnlessExists(
        'failed to create the JIT Secret',
        secrets,
        secret,
        deadline,
      );
      return created === undefined ? 'exists' : 'created';
    },
    async startRecord(name, claim, startedAt, deadline) {
      try {
        await calls.call(
          'failed to resume the runner Job',
          patchJob(name, [
            // The API server answers a failed test with 422: the claim is no longer ours.
            { op: 'test', path: CLAIM_PATH, value: formatClaim(claim) },
            { op: 'replace', path: '/spec/suspend', value: false },
            { op: 'add', path: CLAIM_PATH, value: '' },
            { op: 'add', path: STARTED_AT_PATH, value: String(startedAt) },
          ]),
          deadline,
        );
      } catch (error) {
        if (error instanceof UpstreamError && (error.status === 422 || error.status === 404)) {
          throw new RecordConflictError(
            error.status === 404
              ? 'the runner job was deleted while it was being started'
              : 'the runner job was cancelled or taken over while it was being started',
          );
        }
        throw error;
      }
    },
    async deleteRecord(name, deadline) {
      await calls.deleteUnlessMissing('failed to delete the runner Job', calls.named(jobs, name), deadline, {
        propagationPolicy: 'Background',
      });
    },
    async noteOutdated(name, why, deadline) {
      await calls.unless(
        [404],
        calls.call(
          'failed to note the outdated runner',
          patchJob(name, [{ op: 'add', path: OUTDATED_PATH, value: why }]),
          deadline,
        ),
      );
    },
    async listRecordsOfJob(jobId, deadline) {
      const selector = `${APP_SELECTOR},${LABEL_PREFIX}/job-id=${jobId}`;
      return (await listRunnerJobs(deadline, selector))
        .map(toRunnerRecord)
        .filter((record) => record !== undefined);
    },
    async listRecords(deadline) {
      return (await listRunnerJobs(deadline)).map(toRunnerRecord).filter((record) => record !== undefined);
    },
    async countActive() {
      // Every unfinished app=github-runner Job counts, including ones this version cannot read as a record.
      return (await listRunnerJobs()).filter((job) => !isFinished(job)).length;
    },
    ...createRunnerSlots(calls),
    ...createResetMarks(calls),
    ...createDeliveryMarks(calls),
  };
}
