import { UpstreamError } from '../errors/errors.js';
import { type KubeApi, KubeApiError, type KubeRequest } from '../kubernetes/kube-api.js';
import { type Deadline, deadlineIn, type RetryAdvice, withRetries } from '../retry/with-retries.js';

/** The field manager named in the API server's managedFields for everything this function writes. */
const FIELD_MANAGER = 'kube-actions-runner';

/** A list as the API server sends it (client-node's types call `continue` `_continue`). */
export interface ListOf<T> {
  readonly items: T[];
  readonly metadata?: { readonly continue?: string };
}

export interface NamespacedCallsOptions {
  /** Deadline of a call made without one. */
  readonly defaultBudgetMs?: number;
  /** Longest single request. */
  readonly requestTimeoutMs?: number;
}

/** The API calls the record store is made of, for one namespace, with retries and errors in one place. */
export interface NamespacedCalls {
  readonly paths: { readonly jobs: string; readonly secrets: string; readonly leases: string };
  /** `collection/name`, the name encoded. */
  named(collection: string, name: string): string;
  /** Runs one API call with a per-request timeout, retried on 5xx, 429 and network failures. */
  call<T>(what: string, request: Omit<KubeRequest, 'signal'>, deadline?: Deadline): Promise<T>;
  /** Ignores the listed statuses: resolves `undefined` for them. */
  unless<T>(codes: number[], promise: Promise<T>): Promise<T | undefined>;
  /** Creates an object with strict field validation; `undefined` when one of that name exists already (409). */
  createUnlessExists<T>(
    what: string,
    collection: string,
    body: unknown,
    deadline?: Deadline,
  ): Promise<T | undefined>;
  /** Deletes an object; one already gone (404) is not an error. */
  deleteUnlessMissing(
    what: string,
    path: string,
    deadline?: Deadline,
    query?: KubeRequest['query'],
  ): Promise<void>;
  /** A JSON Patch of an object at `path`. */
  jsonPatch(path: string, body: unknown[]): Omit<KubeRequest, 'signal'>;
}

/**
 * Builds the calls. Manifests are sent with `fieldValidation=Strict`, so an unknown or misspelt field is an error,
 * not silently dropped.
 */
export function createNamespacedCalls(
  api: KubeApi,
  namespace: string,
  options: NamespacedCallsOptions = {},
): NamespacedCalls {
  const { defaultBudgetMs = 8000, requestTimeoutMs = 4000 } = options;
  const ns = encodeURIComponent(namespace);
  const writeQuery = { fieldManager: FIELD_MANAGER, fieldValidation: 'Strict' };

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
            timeoutMs: Math.max(1, Math.min(requestTimeoutMs, remainingMs)),
          }),
        { deadline, advise: adviseRetry },
      );
    } catch (error) {
      throw kubernetesError(what, error);
    }
  }

  async function unless<T>(codes: number[], promise: Promise<T>): Promise<T | undefined> {
    try {
      return await promise;
    } catch (error) {
      if (error instanceof UpstreamError && error.status !== undefined && codes.includes(error.status))
        return undefined;
      throw error;
    }
  }

  return {
    paths: {
      jobs: `/apis/batch/v1/namespaces/${ns}/jobs`,
      secrets: `/api/v1/namespaces/${ns}/secrets`,
      leases: `/apis/coordination.k8s.io/v1/namespaces/${ns}/leases`,
    },
    named: (collection, name) => `${collection}/${encodeURIComponent(name)}`,
    call,
    unless,
    createUnlessExists: <T>(what: string, collection: string, body: unknown, deadline?: Deadline) =>
      unless([409], call<T>(what, { method: 'POST', path: collection, query: writeQuery, body }, deadline)),
    async deleteUnlessMissing(what, path, deadline, query) {
      await unless([404], call(what, { method: 'DELETE', path, ...(query ? { query } : {}) }, deadline));
    },
    jsonPatch: (path, body) => ({
      method: 'PATCH',
      path,
      query: { fieldManager: FIELD_MANAGER },
      contentType: 'application/json-patch+json',
      body,
    }),
  };
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
