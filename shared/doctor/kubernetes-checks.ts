import type { RunnerMode } from '../config/runner-modes.js';
import { type KubeApi, KubeApiError } from '../kubernetes/kube-api.js';
import type { KubeConnection } from '../kubernetes/kube-connection.js';
import { admissionChecks } from './admission-checks.js';
import { type Check, type Finding, fail, notRun, pass } from './check.js';
import {
  API_FAILED,
  impersonating,
  type KubeDoctorContext,
  reason,
  requestWith,
} from './kube-doctor-context.js';
import { rbacChecks } from './rbac-checks.js';

export interface KubernetesCheckDeps {
  readonly context: KubeDoctorContext;
  /** Loads the credentials (kubeconfig or in-cluster); throws saying what is wrong. */
  readonly connect: () => KubeConnection;
  /** Builds the client of a connection (`createKubeApi` with the configuration's proxy). */
  readonly createApi: (connection: KubeConnection) => KubeApi;
  /** `--as`: the user the function's permissions are judged as (`system:serviceaccount:NS:NAME`). */
  readonly as?: string | undefined;
}

/**
 * Kubernetes releases each mode needs, from the README's Runner modes table: native sidecars (1.29) for the
 * Docker modes, and pod user namespaces (`hostUsers: false`, on by default from 1.33) for `userns` and
 * `dind-rootless` (whose `procMount: Unmasked` needs it too).
 */
const NEEDS: Readonly<Record<RunnerMode, { minor: number; why: string } | undefined>> = {
  standard: undefined,
  userns: { minor: 33, why: 'hostUsers: false' },
  dind: { minor: 29, why: 'native sidecars' },
  'dind-rootless': { minor: 33, why: 'hostUsers: false' },
};

/** The Kubernetes checks, in order: credentials, the API server and its version, the namespace, RBAC, admission. */
export function kubernetesChecks(deps: KubernetesCheckDeps): Check[] {
  const { context } = deps;
  const namespace = () => context.config?.namespace ?? 'default';
  return [
    {
      group: 'kubernetes',
      check: 'API server reachable',
      async run(signal) {
        let connection: KubeConnection;
        try {
          connection = deps.connect();
        } catch (error) {
          return fail(
            `no usable credentials: ${(error as Error).message}`,
            'set KUBECONFIG (or ~/.kube/config), or run in a pod with a service account',
          );
        }
        const api = deps.createApi(connection);
        try {
          const version = await requestWith<{ major?: string; minor?: string; gitVersion?: string }>(
            api,
            { method: 'GET', path: '/version' },
            signal,
          );
          // Providers write minors like "33+".
          const minor = Number.parseInt(version.minor ?? '', 10);
          const text = version.gitVersion ?? `v${version.major}.${version.minor}`;
          context.version = { major: Number.parseInt(version.major ?? '', 10), minor, text };
          const asFunction = deps.as === undefined ? api : impersonating(api, deps.as);
          const user = await whoAmI(asFunction, signal);
          context.api = api;
          if (user instanceof KubeApiError) {
            return fail(
              `these credentials (${connection.source}) may not act as ${deps.as}: ${user.message}`,
              "drop --as to judge these credentials as the function's own, or run with a kubeconfig that may impersonate (a cluster admin's)",
            );
          }
          context.asFunction = asFunction;
          return pass(
            `Kubernetes ${text} at ${connection.server.origin} (credentials: ${connection.source}${user ? `, judged as ${user}` : ''})`,
          );
        } catch (error) {
          api.close();
          if (error instanceof KubeApiError && error.status === 401) {
            return fail(
              `${connection.server.origin} refuses the credentials of ${connection.source} (HTTP 401)`,
              'renew the token or client certificate of the kubeconfig user (or the service account token)',
            );
          }
          return fail(
            `${connection.server.origin} (${connection.source}) did not answer: ${reason(error)}`,
            "check the kubeconfig's server address, the network, and HTTPS_PROXY/NO_PROXY",
          );
        }
      },
    },
    {
      group: 'kubernetes',
      check: 'server version fits the profiles',
      async run() {
        const { version, config } = context;
        if (config === undefined) return notRun('the configuration is invalid');
        if (version === undefined) return notRun(API_FAILED);
        const short: string[] = [];
        for (const profile of config.profiles) {
          const need = NEEDS[profile.mode];
          if (need !== undefined && version.major === 1 && version.minor < need.minor) {
            short.push(`profile ${profile.name} (${profile.mode}) needs 1.${need.minor}+ for ${need.why}`);
          }
        }
        if (short.length > 0) {
          return fail(
            `${version.text}: ${short.join('; ')}`,
            'upgrade the cluster, or give those profiles a mode this version runs (standard; dind from 1.29)',
          );
        }
        const modes = [...new Set(config.profiles.map((profile) => profile.mode))].join(', ');
        return pass(`${version.text} runs ${modes}`);
      },
    },
    {
      group: 'kubernetes',
      check: `namespace ${namespace()} exists`,
      run: (signal) => checkNamespace(context, namespace(), signal),
    },
    ...rbacChecks(context),
    ...admissionChecks(context),
  ];
}

async function checkNamespace(
  context: KubeDoctorContext,
  namespace: string,
  signal: AbortSignal,
): Promise<Finding> {
  const { api, asFunction } = context;
  if (context.config === undefined) return notRun('the configuration is invalid');
  if (api === undefined || asFunction === undefined) return notRun(API_FAILED);
  const missing = () => {
    context.namespaceExists = false;
    return fail(
      `namespace ${namespace} does not exist`,
      `kubectl create namespace ${namespace} (knative/rbac.yaml creates github-runner-jobs), or set NAMESPACE`,
    );
  };
  try {
    const found = await requestWith<{ metadata?: { labels?: Record<string, string> } }>(
      api,
      { method: 'GET', path: `/api/v1/namespaces/${encodeURIComponent(namespace)}` },
      signal,
    );
    context.namespaceExists = true;
    context.namespaceLabels = found.metadata?.labels ?? {};
    const enforce = context.namespaceLabels['pod-security.kubernetes.io/enforce'];
    return pass(`${namespace}${enforce ? `, Pod Security enforce=${enforce}` : ''}`);
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return missing();
    if (!(error instanceof KubeApiError && error.status === 403)) throw error;
  }
  // These credentials may not read namespaces (the function's never may): a dry-run create of a Lease, which the
  // function may create, tells a missing namespace from one that exists. Nothing is stored.
  try {
    await requestWith(
      asFunction,
      {
        method: 'POST',
        path: `/apis/coordination.k8s.io/v1/namespaces/${encodeURIComponent(namespace)}/leases`,
        query: { dryRun: 'All' },
        body: {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: { name: 'kar-doctor-probe', namespace },
        },
      },
      signal,
    );
    context.namespaceExists = true;
    return pass(`${namespace} (seen by a dry-run create: these credentials may not read namespaces)`);
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 404) return missing();
    if (error instanceof KubeApiError && error.status === 409) {
      context.namespaceExists = true;
      return pass(namespace);
    }
    if (error instanceof KubeApiError && error.status === 403) {
      return fail(
        `these credentials have no rights in ${namespace}: it does not exist, or the function's Role is not bound there`,
        `kubectl create namespace ${namespace}; kubectl apply -f knative/rbac.yaml (its Role and RoleBinding)`,
      );
    }
    throw error;
  }
}

/**
 * Who the API server takes the caller for (SelfSubjectReview, Kubernetes 1.28+): the user the function's
 * permissions are judged as. `undefined` when the server cannot say; the error when it refuses (impersonation).
 */
async function whoAmI(api: KubeApi, signal: AbortSignal): Promise<string | undefined | KubeApiError> {
  try {
    const review = await requestWith<{ status?: { userInfo?: { username?: string } } }>(
      api,
      {
        method: 'POST',
        path: '/apis/authentication.k8s.io/v1/selfsubjectreviews',
        body: { apiVersion: 'authentication.k8s.io/v1', kind: 'SelfSubjectReview' },
      },
      signal,
    );
    return review.status?.userInfo?.username;
  } catch (error) {
    if (error instanceof KubeApiError && (error.status === 403 || error.status === 401)) return error;
    if (error instanceof KubeApiError && error.status === 404) return undefined;
    throw error;
  }
}
