import type { Config } from '../config/load-config.js';
import { type KubeApi, KubeApiError, type KubeRequest } from '../kubernetes/kube-api.js';

/** What the Kubernetes checks share: the clients, and what earlier checks learnt for later ones. */
export interface KubeDoctorContext {
  /** The configuration, or `undefined` when it is invalid (checks that need it do not run). */
  readonly config: Config | undefined;
  /**
   * The API as the configured credentials: the calls doctor makes for itself (reading the namespace, the dry-run
   * Pod that stands for the Job controller's).
   */
  api?: KubeApi;
  /**
   * The API as the function: the configured credentials, or with `--as` the function's ServiceAccount
   * impersonated through them. Permissions and the Job the function creates are judged as this identity.
   */
  asFunction?: KubeApi;
  /** The server's version (`v1.34.4`) once it answered. */
  version?: { readonly major: number; readonly minor: number; readonly text: string };
  /** false once seen missing; true once seen; undefined when it could not be told. */
  namespaceExists?: boolean;
  /** The namespace's labels, when these credentials may read it. */
  namespaceLabels?: Readonly<Record<string, string>>;
}

/** `KubeApi.request` with the check's signal. */
export function requestWith<T>(api: KubeApi, call: KubeRequest, signal: AbortSignal): Promise<T> {
  return api.request<T>({ ...call, signal });
}

/** The API as `user` (`Impersonate-User`), through credentials that may impersonate (a cluster admin's). */
export function impersonating(api: KubeApi, user: string): KubeApi {
  return {
    request: (call) => api.request({ ...call, headers: { ...call.headers, 'Impersonate-User': user } }),
    close: () => undefined,
  };
}

/** A short reason for a failed call: the API server's status and message, or what happened on the way. */
export function reason(error: unknown): string {
  if (error instanceof KubeApiError) return `HTTP ${error.status} ${error.message}`.trim();
  const text = String((error as Error).message ?? error);
  return /abort|timeout/i.test(text) ? 'timed out' : text;
}

/** Why the checks after a failed first one do not run. */
export const API_FAILED = 'the check "API server reachable" failed';
