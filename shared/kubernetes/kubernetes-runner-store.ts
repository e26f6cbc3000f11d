import { ApiException, BatchV1Api, CoreV1Api, type KubeConfig, type V1Job } from '@kubernetes/client-node';
import { UpstreamError } from '../errors/errors.js';
import { RUNNER_APP_LABEL } from '../modes/build-runner-job.js';
import { isFinished, type RunnerStore } from './runner-store.js';

const APP_SELECTOR = Object.entries(RUNNER_APP_LABEL)
  .map(([key, value]) => `${key}=${value}`)
  .join(',');

/** The field manager named in the API server's managedFields for everything this function writes. */
const FIELD_MANAGER = 'kube-actions-runner';

/**
 * The RunnerStore on `@kubernetes/client-node`, for one namespace. Manifests are sent with
 * `fieldValidation=Strict`, so an unknown or misspelt field is an error, not silently dropped.
 */
export function createKubernetesRunnerStore(kubeConfig: KubeConfig, namespace: string): RunnerStore {
  const batch = kubeConfig.makeApiClient(BatchV1Api);
  const core = kubeConfig.makeApiClient(CoreV1Api);

  return {
    async createJob(job) {
      try {
        const created = await batch.createNamespacedJob({
          namespace,
          body: job,
          fieldManager: FIELD_MANAGER,
          fieldValidation: 'Strict',
        });
        return { created: true, uid: created.metadata?.uid ?? '' };
      } catch (error) {
        if (isStatus(error, 409)) return { created: false };
        throw kubernetesError('failed to create the runner Job', error);
      }
    },
    async createSecret(secret) {
      try {
        await core.createNamespacedSecret({
          namespace,
          body: secret,
          fieldManager: FIELD_MANAGER,
          fieldValidation: 'Strict',
        });
      } catch (error) {
        if (isStatus(error, 409)) return;
        throw kubernetesError('failed to create the JIT Secret', error);
      }
    },
    async resumeJob(name) {
      try {
        await batch.patchNamespacedJob({
          name,
          namespace,
          // JSON Patch, the client's default patch type for this call.
          body: [{ op: 'replace', path: '/spec/suspend', value: false }],
          fieldManager: FIELD_MANAGER,
        });
      } catch (error) {
        throw kubernetesError('failed to resume the runner Job', error);
      }
    },
    async deleteJob(name) {
      try {
        await batch.deleteNamespacedJob({ name, namespace, propagationPolicy: 'Background' });
      } catch (error) {
        if (isStatus(error, 404)) return;
        throw kubernetesError('failed to delete the runner Job', error);
      }
    },
    async countActive() {
      let count = 0;
      let page: string | undefined;
      do {
        const list = await batch
          .listNamespacedJob({
            namespace,
            labelSelector: APP_SELECTOR,
            limit: 500,
            ...(page ? { _continue: page } : {}),
          })
          .catch((error: unknown) => {
            throw kubernetesError('failed to list runner Jobs', error);
          });
        count += list.items.filter((job: V1Job) => !isFinished(job)).length;
        page = list.metadata?._continue || undefined;
      } while (page !== undefined);
      return count;
    },
  };
}

function isStatus(error: unknown, code: number): boolean {
  return error instanceof ApiException && error.code === code;
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
  return new UpstreamError('kubernetes', `${what}: ${(error as Error).message}`, undefined, { cause: error });
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
