import {
  ApiException,
  BatchV1Api,
  CoordinationV1Api,
  CoreV1Api,
  type KubeConfig,
  Observable,
  type ObservableMiddleware,
  type RequestContext,
  type ResponseContext,
  type V1Job,
} from '@kubernetes/client-node';
import { UpstreamError } from '../errors/errors.js';
import { RUNNER_APP_LABEL } from '../modes/build-runner-job.js';
import { type Claim, formatClaim, LABEL_PREFIX, RECORD_ANNOTATIONS } from '../modes/record-annotations.js';
import { type Deadline, deadlineIn, type RetryAdvice, withRetries } from '../retry/with-retries.js';
import { isFinished, toRunnerRecord } from './runner-record.js';
import type { RunnerStore } from './runner-store.js';

const APP_SELECTOR = Object.entries(RUNNER_APP_LABEL)
  .map(([key, value]) => `${key}=${value}`)
  .join(',');

/** Labels of the Leases that are runner slots (concurrency caps). */
const SLOT_LABEL = `${LABEL_PREFIX}/slot`;
const SLOT_SCOPE = `${LABEL_PREFIX}/slot-scope`;
const SLOT_HOLDER = `${LABEL_PREFIX}/slot-holder`;

/** The field manager named in the API server's managedFields for everything this function writes. */
const FIELD_MANAGER = 'kube-actions-runner';
/** A JSON Patch path segment escapes `/` as `~1`. */
const CLAIM_PATH = `/metadata/annotations/${RECORD_ANNOTATIONS.claim.replace('/', '~1')}`;

export interface KubernetesRunnerStoreOptions {
  /** Deadline of a call made without one. */
  readonly defaultBudgetMs?: number;
  /** Longest single request. */
  readonly requestTimeoutMs?: number;
}

/**
 * The RunnerStore on `@kubernetes/client-node`, for one namespace. Manifests are sent with
 * `fieldValidation=Strict`, so an unknown or misspelt field is an error, not silently dropped.
 */
export function createKubernetesRunnerStore(
  kubeConfig: KubeConfig,
  namespace: string,
  options: KubernetesRunnerStoreOptions = {},
): RunnerStore {
  const { defaultBudgetMs = 8000, requestTimeoutMs = 4000 } = options;
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const coordination = kubeConfig.makeApiClient(CoordinationV1Api);

  async function listSlotLeases(selector: string, deadline?: Deadline) {
    const list = await call(
      'failed to list runner slots',
      (o) => coordination.listNamespacedLease({ namespace, labelSelector: selector }, o),
      deadline,
    );
    return list.items;
  }

  /** Runs one API call with a per-request timeout, retried on 5xx, 429 and network failures. */
  async function call<T>(
    what: string,
    run: (options: ReturnType<typeof timeoutOptions>) => Promise<T>,
    deadline: Deadline = deadlineIn(defaultBudgetMs),
  ): Promise<T> {
    try {
      return await withRetries(
        (remainingMs) => run(timeoutOptions(Math.max(1, Math.min(requestTimeoutMs, remainingMs)))),
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
    const jobs: V1Job[] = [];
    let page: string | undefined;
    do {
      const continueToken = page;
      const list = await call(
        'failed to list runner Jobs',
        (o) =>
          batch.listNamespacedJob(
            {
              namespace,
              labelSelector: APP_SELECTOR,
              limit: 500,
              ...(continueToken ? { _continue: continueToken } : {}),
            },
            o,
          ),
        deadline,
      );
      jobs.push(...list.items);
      page = list.metadata?._continue || undefined;
    } while (page !== undefined);
    return jobs;
  }

  const store: RunnerStore = {
    async createJob(job, deadline) {
      const created = await unless(
        [409],
        call(
          'failed to create the runner Job',
          (o) =>
            batch.createNamespacedJob(
              { namespace, body: job, fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' },
              o,
            ),
          deadline,
        ),
      );
      const record = created && toRunnerRecord(created);
      return record ? { created: true, record } : { created: false };
    },
    async getRecord(name, deadline) {
      const job = await unless(
        [404],
        call(
          'failed to read the runner Job',
          (o) => batch.readNamespacedJob({ name, namespace }, o),
          deadline,
        ),
      );
      return job && toRunnerRecord(job);
    },
    async claim(record, claim: Claim, deadline) {
      // Setting resourceVersion in the patch makes it conditional: the API server answers 409 if the Job changed.
      const patched = await unless(
        [409, 404],
        call(
          'failed to claim the runner Job',
          (o) =>
            batch.patchNamespacedJob(
              {
                name: record.name,
                namespace,
                fieldManager: FIELD_MANAGER,
                body: [
                  { op: 'replace', path: '/metadata/resourceVersion', value: record.resourceVersion },
                  { op: 'add', path: CLAIM_PATH, value: formatClaim(claim) },
                ],
              },
              o,
            ),
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
          (o) =>
            batch.patchNamespacedJob(
              {
                name,
                namespace,
                fieldManager: FIELD_MANAGER,
                body: [{ op: 'add', path: CLAIM_PATH, value: '' }],
              },
              o,
            ),
          deadline,
        ),
      );
    },
    async createSecret(secret, deadline) {
      const created = await unless(
        [409],
        call(
          'failed to create the JIT Secret',
          (o) =>
            core.createNamespacedSecret(
              { namespace, body: secret, fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' },
              o,
            ),
          deadline,
        ),
      );
      return created === undefined ? 'exists' : 'created';
    },
    async resumeJob(name, deadline) {
      await call(
        'failed to resume the runner Job',
        (o) =>
          batch.patchNamespacedJob(
            {
              name,
              namespace,
              fieldManager: FIELD_MANAGER,
              body: [
                { op: 'replace', path: '/spec/suspend', value: false },
                { op: 'add', path: CLAIM_PATH, value: '' },
              ],
            },
            o,
          ),
        deadline,
      );
    },
    async deleteJob(name, deadline) {
      await unless(
        [404],
        call(
          'failed to delete the runner Job',
          (o) => batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' }, o),
          deadline,
        ),
      );
    },
    async listRecords(deadline) {
      return (await listRunnerJobs(deadline)).map(toRunnerRecord).filter((record) => record !== undefined);
    },
    async acquireSlot(scope, capacity, holder, deadline) {
      const taken = new Set(
        (await listSlotLeases(`${SLOT_LABEL}=true,${SLOT_SCOPE}=${scope}`, deadline)).map(
          (lease) => lease.metadata?.name,
        ),
      );
      for (let index = 0; index < capacity; index += 1) {
        const name = `kar-slot-${scope}-${index}`;
        if (taken.has(name)) continue;
        const created = await unless(
          [409],
          call(
            'failed to take a runner slot',
            (o) =>
              coordination.createNamespacedLease(
                {
                  namespace,
                  fieldManager: FIELD_MANAGER,
                  body: {
                    apiVersion: 'coordination.k8s.io/v1',
                    kind: 'Lease',
                    metadata: {
                      name,
                      labels: { [SLOT_LABEL]: 'true', [SLOT_SCOPE]: scope, [SLOT_HOLDER]: holder.name },
                      ownerReferences: [
                        { apiVersion: 'batch/v1', kind: 'Job', name: holder.name, uid: holder.uid },
                      ],
                    },
                    spec: { holderIdentity: holder.name },
                  },
                },
                o,
              ),
            deadline,
          ),
        );
        if (created !== undefined) return true;
      }
      return false;
    },
    async releaseSlots(holder, deadline) {
      for (const lease of await listSlotLeases(`${SLOT_LABEL}=true,${SLOT_HOLDER}=${holder}`, deadline)) {
        const name = lease.metadata?.name;
        if (name === undefined) continue;
        await unless(
          [404],
          call(
            'failed to free a runner slot',
            (o) => coordination.deleteNamespacedLease({ name, namespace }, o),
            deadline,
          ),
        );
      }
    },
    async listSlots(deadline) {
      return (await listSlotLeases(`${SLOT_LABEL}=true`, deadline)).map((lease) => ({
        name: lease.metadata?.name ?? '',
        holder: lease.spec?.holderIdentity ?? '',
      }));
    },
    async countActive() {
      // Every unfinished app=github-runner Job counts, including ones this version cannot read as a record.
      return (await listRunnerJobs()).filter((job) => !isFinished(job)).length;
    },
  };
  return store;
}

/** Per-request timeout through the client's middleware: the request is aborted, not just abandoned. */
function timeoutOptions(ms: number) {
  const middleware: ObservableMiddleware = {
    pre: (context: RequestContext) => {
      context.setSignal(AbortSignal.timeout(ms));
      return new Observable(Promise.resolve(context));
    },
    post: (response: ResponseContext) => new Observable(Promise.resolve(response)),
  };
  return { middleware: [middleware], middlewareMergeStrategy: 'append' as const };
}

/** 5xx, 429 and failures with no answer (timeouts, resets) may pass; other statuses will not. */
function adviseRetry(error: unknown): RetryAdvice {
  if (!(error instanceof ApiException)) return {};
  if (error.code === 429 || error.code >= 500) {
    const retryAfter = Number(error.headers?.['retry-after']);
    return Number.isFinite(retryAfter) ? { afterMs: retryAfter * 1000 } : {};
  }
  return undefined;
}

/** Wraps a client error with the API server's own message (a Status `message`), never the request. */
function kubernetesError(what: string, error: unknown): UpstreamError {
  if (error instanceof ApiException) {
    const message = statusMessage(error.body);
    return new UpstreamError(
      'kubernetes',
      `${what}: HTTP ${error.code}${message ? ` ${message}` : ''}`,
      error.code,
      {
        cause: error,
      },
    );
  }
  const text = String((error as Error).message ?? error);
  const reason = /abort|timeout/i.test(text) ? 'timed out' : text;
  return new UpstreamError('kubernetes', `${what}: ${reason}`, undefined, { cause: error });
}

function statusMessage(body: unknown): string | undefined {
  if (typeof body === 'string') {
    try {
      return statusMessage(JSON.parse(body));
    } catch {
      return body.slice(0, 300);
    }
  }
  const message = (body as { message?: unknown } | undefined)?.message;
  return typeof message === 'string' ? message : undefined;
}
