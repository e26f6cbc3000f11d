import type { V1Job, V1Lease, V1Secret } from '@kubernetes/client-node';
import { UpstreamError } from '../errors/errors.js';
import { RUNNER_APP_LABEL } from '../modes/build-runner-job.js';
import {
  type Claim,
  formatClaim,
  LABEL_PREFIX,
  RECORD_ANNOTATIONS,
  type RecordFields,
  recordFieldsOf,
} from '../modes/record-annotations.js';
import { type Deadline, deadlineIn, type RetryAdvice, withRetries } from '../retry/with-retries.js';
import { type KubeApi, KubeApiError, type KubeRequest } from './kube-api.js';
import { isFinished, toRunnerRecord } from './runner-record.js';
import type { ResetMark, RunnerStore } from './runner-store.js';

const APP_SELECTOR = Object.entries(RUNNER_APP_LABEL)
  .map(([key, value]) => `${key}=${value}`)
  .join(',');

/** Labels of the Leases that are runner slots (concurrency caps). */
const SLOT_LABEL = `${LABEL_PREFIX}/slot`;
const SLOT_SCOPE = `${LABEL_PREFIX}/slot-scope`;
const SLOT_HOLDER = `${LABEL_PREFIX}/slot-holder`;
/** Label and annotation of the Leases that mark a record reset in progress (see `markReset`). */
const RESET_LABEL = `${LABEL_PREFIX}/reset`;
const RESET_FIELDS = `${LABEL_PREFIX}/record-fields`;
const resetMarkName = (jobId: number) => `kar-reset-${jobId}`;

/** The field manager named in the API server's managedFields for everything this function writes. */
const FIELD_MANAGER = 'kube-actions-runner';
/** A JSON Patch path segment escapes `/` as `~1`. */
const CLAIM_PATH = `/metadata/annotations/${RECORD_ANNOTATIONS.claim.replace('/', '~1')}`;
const JSON_PATCH = 'application/json-patch+json';

/** A list as the API server sends it (client-node's types call `continue` `_continue`). */
interface ListOf<T> {
  readonly items: T[];
  readonly metadata?: { readonly continue?: string };
}

export interface KubernetesRunnerStoreOptions {
  /** Deadline of a call made without one. */
  readonly defaultBudgetMs?: number;
  /** Longest single request. */
  readonly requestTimeoutMs?: number;
}

/**
 * The RunnerStore on the Kubernetes REST API, for one namespace. Manifests are sent with
 * `fieldValidation=Strict`, so an unknown or misspelt field is an error, not silently dropped.
 */
export function createKubernetesRunnerStore(
  api: KubeApi,
  namespace: string,
  options: KubernetesRunnerStoreOptions = {},
): RunnerStore {
  const { defaultBudgetMs = 8000, requestTimeoutMs = 4000 } = options;
  const ns = encodeURIComponent(namespace);
  const jobs = `/apis/batch/v1/namespaces/${ns}/jobs`;
  const secrets = `/api/v1/namespaces/${ns}/secrets`;
  const leases = `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`;
  const named = (collection: string, name: string) => `${collection}/${encodeURIComponent(name)}`;
  const writeQuery = { fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' };

  async function listLeases(selector: string, deadline?: Deadline): Promise<V1Lease[]> {
    const list = await call<ListOf<V1Lease>>(
      'failed to list runner slots',
      { method: 'GET', path: leases, query: { labelSelector: selector } },
      deadline,
    );
    return list.items;
  }

  /** Runs one API call with a per-request timeout, retried on 5xx, 429 and network failures. */
  async function call<T>(
    what: string,
    request: Omit<KubeRequest, 'signal'>,
    deadline: Deadline = deadlineIn(defaultBudgetMs),
  ): Promise<T> {
    try {
      return await withRetries(
        (remainingMs) =>
          api.request<T>({
            ...request,
            signal: AbortSignal.timeout(Math.max(1, Math.min(requestTimeoutMs, remainingMs))),
          }),
        { deadline, advise: adviseRetry },
      );
    } catch (error) {
      throw kubernetesError(what, error);
    }
  }

  /** Ignores the listed statuses: resolves `undefined` for them. */
  async function unless<T>(codes: number[], promise: Promise<T>): Promise<T | undefined> {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof UpstreamError && error.status !== undefined && codes.includes(error.status))
        return undefined;
      throw error;
    }
  }

  async function listRunnerJobs(deadline?: Deadline): Promise<V1Job[]> {
    const found: V1Job[] = [];
    let page: string | undefined;
    do {
      const list = await call<ListOf<V1Job>>(
        'failed to list runner Jobs',
        { method: 'GET', path: jobs, query: { labelSelector: APP_SELECTOR, limit: 500, continue: page } },
        deadline,
      );
      found.push(...list.items);
      page = list.metadata?.continue || undefined;
    } while (page !== undefined);
    return found;
  }

  /** Creates an object; `undefined` when one of that name exists already (409). */
  const createUnlessExists = <T>(what: string, collection: string, body: unknown, deadline?: Deadline) =>
    unless([409], call<T>(what, { method: 'POST', path: collection, query: writeQuery, body }, deadline));

  /** Deletes an object; one already gone (404) is not an error. */
  const deleteUnlessMissing = async (
    what: string,
    path: string,
    deadline?: Deadline,
    query?: KubeRequest['query'],
  ): Promise<void> => {
    await unless([404], call(what, { method: 'DELETE', path, ...(query ? { query } : {}) }, deadline));
  };

  /** A JSON Patch of a runner Job. */
  const patchJob = (name: string, body: unknown[]): Omit<KubeRequest, 'signal'> => ({
    method: 'PATCH',
    path: named(jobs, name),
    query: { fieldManager: FIELD_MANAGER },
    contentType: JSON_PATCH,
    body,
  });

  const store: RunnerStore = {
    async createJob(job, deadline) {
      const created = await createUnlessExists<V1Job>('failed to create the runner Job', jobs, job, deadline);
      const record = created && toRunnerRecord(created);
      return record ? { created: true, record } : { created: false };
    },
    async getRecord(name, deadline) {
      const job = await unless(
        [404],
        call<V1Job>('failed to read the runner Job', { method: 'GET', path: named(jobs, name) }, deadline),
      );
      return job && toRunnerRecord(job);
    },
    async claim(record, claim: Claim, deadline) {
      // Setting resourceVersion in the patch makes it conditional: the API server answers 409 if the Job changed.
      const patched = await unless(
        [409, 404],
        call(
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
    async releaseClaim(name, deadline) {
      await unless(
        [404],
        call(
          'failed to release the claim',
          patchJob(name, [{ op: 'add', path: CLAIM_PATH, value: '' }]),
          deadline,
        ),
      );
    },
    async createSecret(secret: V1Secret, deadline) {
      const created = await createUnlessExists('failed to create the JIT Secret', secrets, secret, deadline);
      return created === undefined ? 'exists' : 'created';
    },
    async resumeJob(name, deadline) {
      await call(
        'failed to resume the runner Job',
        patchJob(name, [
          { op: 'replace', path: '/spec/suspend', value: false },
          { op: 'add', path: CLAIM_PATH, value: '' },
        ]),
        deadline,
      );
    },
    async deleteJob(name, deadline) {
      await deleteUnlessMissing('failed to delete the runner Job', named(jobs, name), deadline, {
        propagationPolicy: 'Background',
      });
    },
    async listRecords(deadline) {
      return (await listRunnerJobs(deadline)).map(toRunnerRecord).filter((record) => record !== undefined);
    },
    async acquireSlot(scope, capacity, holder, deadline) {
      const taken = new Set(
        (await listLeases(`${SLOT_LABEL}=true,${SLOT_SCOPE}=${scope}`, deadline)).map(
          (lease) => lease.metadata?.name,
        ),
      );
      for (let index = 0; index < capacity; index += 1) {
        const name = `kar-slot-${scope}-${index}`;
        if (taken.has(name)) continue;
        const lease: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name,
            labels: { [SLOT_LABEL]: 'true', [SLOT_SCOPE]: scope, [SLOT_HOLDER]: holder.name },
            ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: holder.name, uid: holder.uid }],
          },
          spec: { holderIdentity: holder.name },
        };
        const created = await createUnlessExists('failed to take a runner slot', leases, lease, deadline);
        if (created !== undefined) return true;
      }
      return false;
    },
    async releaseSlots(holder, deadline) {
      for (const lease of await listLeases(`${SLOT_LABEL}=true,${SLOT_HOLDER}=${holder}`, deadline)) {
        const name = lease.metadata?.name;
        if (name === undefined) continue;
        await deleteUnlessMissing('failed to free a runner slot', named(leases, name), deadline);
      }
    },
    async listSlots(deadline) {
      return (await listLeases(`${SLOT_LABEL}=true`, deadline)).map((lease) => ({
        name: lease.metadata?.name ?? '',
        holder: lease.spec?.holderIdentity ?? '',
      }));
    },
    async countActive() {
      // Every unfinished app=github-runner Job counts, including ones this version cannot read as a record.
      return (await listRunnerJobs()).filter((job) => !isFinished(job)).length;
    },
    async markReset(fields, deadline) {
      // A Lease, because the function may already create, list and delete Leases (its slots); no owner, so
      // that it outlives the Job it stands in for.
      const mark: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: resetMarkName(fields.jobId),
          labels: { [RESET_LABEL]: 'true' },
          annotations: {
            [RESET_FIELDS]: JSON.stringify(recordFieldsOf(fields)),
          },
        },
        spec: {},
      };
      await createUnlessExists('failed to mark the reset', leases, mark, deadline);
    },
    async listResetMarks(deadline) {
      const marks: ResetMark[] = [];
      for (const lease of await listLeases(`${RESET_LABEL}=true`, deadline)) {
        const fields = parseFields(lease.metadata?.annotations?.[RESET_FIELDS]);
        const created = lease.metadata?.creationTimestamp;
        if (fields !== undefined) {
          marks.push({ fields, markedAt: created ? new Date(created).getTime() : 0 });
        }
      }
      return marks;
    },
    async clearResetMark(jobId, deadline) {
      await deleteUnlessMissing(
        'failed to clear the reset mark',
        named(leases, resetMarkName(jobId)),
        deadline,
      );
    },
  };
  return store;
}

/** 5xx, 429 and failures with no answer (timeouts, resets) may pass; other statuses will not. */
function adviseRetry(error: unknown): RetryAdvice {
  if (!(error instanceof KubeApiError)) return {};
  if (error.status === 429 || error.status >= 500) {
    return error.retryAfterSeconds === undefined ? {} : { afterMs: error.retryAfterSeconds * 1000 };
  }
  return undefined;
}

/** Wraps a client error with the API server's own message (a Status `message`), never the request. */
function kubernetesError(what: string, error: unknown): UpstreamError {
  if (error instanceof KubeApiError) {
    return new UpstreamError(
      'kubernetes',
      `${what}: HTTP ${error.status}${error.message ? ` ${error.message}` : ''}`,
      error.status,
      { cause: error },
    );
  }
  const text = String((error as Error).message ?? error);
  const reason = /abort|timeout/i.test(text) ? 'timed out' : text;
  return new UpstreamError('kubernetes', `${what}: ${reason}`, undefined, { cause: error });
}

/** The record fields a reset mark carries; `undefined` for a mark this version cannot read. */
function parseFields(text: string | undefined): RecordFields | undefined {
  try {
    const fields = JSON.parse(text ?? '') as Partial<RecordFields>;
    if (
      typeof fields.owner !== 'string' ||
      typeof fields.repo !== 'string' ||
      !Number.isSafeInteger(fields.jobId) ||
      !Array.isArray(fields.jobLabels)
    ) {
      return undefined;
    }
    return fields as RecordFields;
  } catch {
    return undefined;
  }
}
