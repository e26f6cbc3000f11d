/**
 * A loopback stand-in for the slice of the Kubernetes API the function uses (Jobs and Secrets in a namespace),
 * answering with the objects and `Status` bodies a real API server sends: 201 with uid and resourceVersion on
 * create, 409 AlreadyExists, 404 NotFound, JSON Patch, label selectors, and owner-based deletion of Secrets.
 * It cannot validate manifests as a real server does; the end-to-end suite on a real control plane does that.
 *
 * Longer than 250 lines on purpose: one object store serves every resource, as the API server does.
 */
import { randomUUID } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1PodFailurePolicy } from '@kubernetes/client-node';
import { type JsonRequest, type JsonResponse, startJsonServer } from './http-server.js';

type KubeObject = {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    namespace?: string;
    uid?: string;
    labels?: Record<string, string>;
    ownerReferences?: { uid: string }[];
    [key: string]: unknown;
  };
  spec?: Record<string, unknown>;
  status?: Record<string, unknown>;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  [key: string]: unknown;
};

export interface KubernetesStandIn {
  readonly url: string;
  readonly jobs: Map<string, KubeObject>;
  readonly secrets: Map<string, KubeObject>;
  readonly leases: Map<string, KubeObject>;
  /** Number of requests per `METHOD resource`, e.g. `POST jobs`. */
  readonly requestCounts: Map<string, number>;
  /**
   * The next `count` requests of `METHOD resource` answer `status` with a Status body; with `after`, only once
   * that many more have been served as usual.
   */
  failNext(
    method: string,
    resource: 'jobs' | 'secrets' | 'leases',
    status: number,
    count?: number,
    after?: number,
  ): void;
  /** The next request of `METHOD resource` is applied, then its answer is lost (the connection is reset). */
  loseAnswerNext(method: string, resource: 'jobs' | 'secrets' | 'leases'): void;
  /** Runs `then` right after the next request of `METHOD resource` is applied, before it is answered. */
  afterNext(method: string, resource: 'jobs' | 'secrets' | 'leases', then: () => void): void;
  /**
   * From now on, each request meets a fault with this probability: an error status, or a delay (a slow or
   * hanging API server). A write that meets a delay is still applied, as when only the answer is lost.
   */
  chaos(
    probability: number,
    faults: readonly { status?: number; delayMs?: number }[],
    random: () => number,
  ): void;
  /**
   * The cluster's nodes (name and labels), listed at `/api/v1/nodes` with label selectors and `limit`. Unset (the
   * default), listing nodes is forbidden (403), as for a ServiceAccount without the optional node-reading
   * ClusterRole.
   */
  setNodes(nodes: readonly { name: string; labels: Record<string, string> }[] | undefined): void;
  /** Marks a Job as the Job controller does when its pod succeeded. */
  completeJob(name: string): void;
  /**
   * Marks a Job as the Job controller does when its only pod failed (`backoffLimit: 0`): `exitCode`, when given, is
   * the runner container's, matched against the Job's pod failure policy as the controller does (a FailJob rule of
   * that container and code fails it with reason `PodFailurePolicy`; otherwise `BackoffLimitExceeded`).
   */
  failJob(name: string, exitCode?: number): void;
  /** Sets how many pods of a Job are ready, as the Job controller would once its runner pod came up. */
  setReady(name: string, ready: number): void;
  /** Writes a kubeconfig for this server into `dir` and returns its path. */
  writeKubeconfig(dir: string): string;
  close(): Promise<void>;
}

const GROUPS = {
  jobs: { group: 'batch', apiVersion: 'batch/v1', kind: 'Job' },
  secrets: { group: '', apiVersion: 'v1', kind: 'Secret' },
  leases: { group: 'coordination.k8s.io', apiVersion: 'coordination.k8s.io/v1', kind: 'Lease' },
};
type Resource = keyof typeof GROUPS;

function status(
  code: number,
  reason: string,
  message: string,
  details?: Record<string, unknown>,
): JsonResponse {
  return {
    status: code,
    body: {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message,
      reason,
      details,
      code,
    },
  };
}

export async function startKubernetesStandIn(): Promise<KubernetesStandIn> {
  const stores: Record<Resource, Map<string, KubeObject>> = {
    jobs: new Map(),
    secrets: new Map(),
    leases: new Map(),
  };
  const requestCounts = new Map<string, number>();
  const failures = new Map<string, { status: number; count: number; after: number }>();
  const losing = new Set<string>();
  const afterHooks = new Map<string, () => void>();
  let resourceVersion = 1000;
  let nodes: readonly { name: string; labels: Record<string, string> }[] | undefined;
  let chaos:
    | { probability: number; faults: readonly { status?: number; delayMs?: number }[]; random: () => number }
    | undefined;

  const notFound = (resource: Resource, name: string) =>
    status(
      404,
      'NotFound',
      `${resource}${GROUPS[resource].group ? `.${GROUPS[resource].group}` : ''} "${name}" not found`,
      {
        name,
        group: GROUPS[resource].group,
        kind: resource,
      },
    );

  function handle(request: JsonRequest): JsonResponse {
    if (chaos && chaos.random() < chaos.probability) {
      const fault = chaos.faults[Math.floor(chaos.random() * chaos.faults.length)];
      if (fault?.status !== undefined) {
        return status(fault.status, fault.status >= 500 ? 'InternalError' : 'Conflict', 'injected failure');
      }
      if (fault?.delayMs !== undefined) return { ...answer(request), delayMs: fault.delayMs };
    }
    return answer(request);
  }

  function answer(request: JsonRequest): JsonResponse {
    if (request.url.pathname === '/api/v1/nodes' && request.method === 'GET') {
      requestCounts.set('GET nodes', (requestCounts.get('GET nodes') ?? 0) + 1);
      return listNodes(request.url.searchParams);
    }
    const match =
      /^\/(?:apis\/batch\/v1|api\/v1|apis\/coordination\.k8s\.io\/v1)\/namespaces\/([^/]+)\/(jobs|secrets|leases)(?:\/([^/]+))?$/.exec(
        request.url.pathname,
      );
    if (!match) return status(404, 'NotFound', 'the server could not find the requested resource');
    const [, namespace, resource, name] = match as unknown as [string, string, Resource, string | undefined];
    const key = `${request.method} ${resource}`;
    requestCounts.set(key, (requestCounts.get(key) ?? 0) + 1);
    const failure = failures.get(key);
    if (failure && failure.after > 0) {
      failure.after -= 1;
    } else if (failure && failure.count > 0) {
      failure.count -= 1;
      return status(
        failure.status,
        failure.status >= 500 ? 'InternalError' : 'BadRequest',
        'injected failure',
      );
    }
    const applied = serve(request.method, resource, namespace, name, request);
    const then = afterHooks.get(key);
    if (then !== undefined) {
      afterHooks.delete(key);
      then();
    }
    return losing.delete(key) ? { ...applied, status: 0, body: undefined, reset: true } : applied;
  }

  function serve(
    method: string,
    resource: Resource,
    namespace: string,
    name: string | undefined,
    request: JsonRequest,
  ): JsonResponse {
    const store = stores[resource];
    switch (method) {
      case 'POST':
        return create(resource, namespace, request.body as KubeObject);
      case 'GET':
        if (name === undefined) return list(resource, request.url.searchParams.get('labelSelector'));
        return store.has(name) ? { status: 200, body: store.get(name) } : notFound(resource, name);
      case 'PATCH':
        if (name === undefined)
          return status(405, 'MethodNotAllowed', 'the server does not allow this method');
        return patch(resource, name, request.body, request.headers['content-type']);
      case 'DELETE':
        if (name === undefined)
          return status(405, 'MethodNotAllowed', 'the server does not allow this method');
        return remove(resource, name);
      default:
        return status(405, 'MethodNotAllowed', 'the server does not allow this method');
    }
  }

  function create(resource: Resource, namespace: string, body: KubeObject): JsonResponse {
    const { apiVersion, kind } = GROUPS[resource];
    if (body?.kind !== kind || body.apiVersion !== apiVersion || !body.metadata?.name) {
      return status(400, 'BadRequest', `the body is not a ${kind}`);
    }
    const store = stores[resource];
    if (store.has(body.metadata.name)) {
      return status(
        409,
        'AlreadyExists',
        `${resource}${GROUPS[resource].group ? '.batch' : ''} "${body.metadata.name}" already exists`,
        {
          name: body.metadata.name,
          group: GROUPS[resource].group,
          kind: resource,
        },
      );
    }
    const object: KubeObject = structuredClone(body);
    object.metadata = {
      ...object.metadata,
      namespace,
      uid: randomUUID(),
      resourceVersion: String(++resourceVersion),
      creationTimestamp: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
    };
    if (resource === 'jobs') object.status = {};
    if (resource === 'secrets' && object.stringData) {
      // The API server folds stringData into base64 data and never returns stringData.
      object.data = {
        ...object.data,
        ...Object.fromEntries(
          Object.entries(object.stringData).map(([k, v]) => [k, Buffer.from(v).toString('base64')]),
        ),
      };
      delete object.stringData;
    }
    store.set(object.metadata.name, object);
    return { status: 201, body: object };
  }

  function list(resource: Resource, selector: string | null): JsonResponse {
    const wanted = (selector ?? '')
      .split(',')
      .filter(Boolean)
      .map((term) => term.split('=') as [string, string]);
    const items = [...stores[resource].values()].filter((object) =>
      wanted.every(([k, v]) => object.metadata.labels?.[k] === v),
    );
    const { apiVersion, kind } = GROUPS[resource];
    return {
      status: 200,
      body: {
        apiVersion,
        kind: `${kind}List`,
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      },
    };
  }

  function listNodes(query: URLSearchParams): JsonResponse {
    if (nodes === undefined) {
      return status(
        403,
        'Forbidden',
        'nodes is forbidden: User "system:serviceaccount:stand-in:stand-in" cannot list resource "nodes" in API group "" at the cluster scope',
        { kind: 'nodes' },
      );
    }
    const wanted = (query.get('labelSelector') ?? '')
      .split(',')
      .filter(Boolean)
      .map((term) => term.split('=') as [string, string]);
    const limit = Number(query.get('limit') ?? 0);
    const found = nodes.filter((node) => wanted.every(([k, v]) => node.labels[k] === v));
    const items = (limit > 0 ? found.slice(0, limit) : found).map((node) => ({
      kind: 'PartialObjectMetadata',
      apiVersion: 'meta.k8s.io/v1',
      metadata: { name: node.name, labels: { ...node.labels } },
    }));
    return {
      status: 200,
      body: {
        kind: 'PartialObjectMetadataList',
        apiVersion: 'meta.k8s.io/v1',
        metadata: { resourceVersion: String(resourceVersion) },
        items,
      },
    };
  }

  function patch(
    resource: Resource,
    name: string,
    body: unknown,
    contentType: string | undefined,
  ): JsonResponse {
    const object = stores[resource].get(name);
    if (object === undefined) return notFound(resource, name);
    if (contentType !== 'application/json-patch+json' || !Array.isArray(body)) {
      return status(415, 'UnsupportedMediaType', `the stand-in only takes JSON Patch, got ${contentType}`);
    }
    const ops = body as { op: string; path: string; value: unknown }[];
    // A resourceVersion in the patch is a precondition, as on a real API server: 409 when the object changed.
    const precondition = ops.find((op) => op.path === '/metadata/resourceVersion');
    if (precondition && precondition.value !== object.metadata.resourceVersion) {
      return status(
        409,
        'Conflict',
        `Operation cannot be fulfilled on ${resource} "${name}": the object has been modified`,
      );
    }
    const updated = structuredClone(object);
    for (const op of ops) {
      if (op === precondition) continue;
      const segments = op.path
        .split('/')
        .slice(1)
        .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'));
      const last = segments.pop();
      const parent = segments.reduce<Record<string, unknown> | undefined>(
        (at, key) => (at === undefined ? undefined : (at[key] as Record<string, unknown> | undefined)),
        updated,
      );
      if (op.op !== 'replace' && op.op !== 'add' && op.op !== 'test')
        return status(422, 'Invalid', `unsupported op ${op.op}`);
      if (parent === undefined || last === undefined)
        return status(422, 'Invalid', `no such path ${op.path}`);
      if (op.op === 'test') {
        // RFC 6902: the value at the path must equal the given one, else the whole patch fails (422, as the
        // API server answers a failed test).
        if (!(last in parent) || JSON.stringify(parent[last]) !== JSON.stringify(op.value))
          return status(422, 'Invalid', `the server rejected our request: testing value ${op.path} failed`);
        continue;
      }
      if (op.op === 'replace' && !(last in parent))
        return status(422, 'Invalid', `no value at ${op.path} to replace`);
      parent[last] = op.value;
    }
    Object.assign(object, updated);
    object.metadata.resourceVersion = String(++resourceVersion);
    return { status: 200, body: object };
  }

  function remove(resource: Resource, name: string): JsonResponse {
    const object = stores[resource].get(name);
    if (object === undefined) return notFound(resource, name);
    stores[resource].delete(name);
    if (resource === 'jobs') {
      // What the garbage collector does for dependents of a deleted owner.
      for (const store of [stores.secrets, stores.leases]) {
        for (const [dependent, value] of store) {
          if (value.metadata.ownerReferences?.some((ref) => ref.uid === object.metadata.uid))
            store.delete(dependent);
        }
      }
    }
    return {
      status: 200,
      body: {
        kind: 'Status',
        apiVersion: 'v1',
        metadata: {},
        status: 'Success',
        details: { name, kind: resource, uid: object.metadata.uid },
      },
    };
  }

  const server = await startJsonServer(handle);
  return {
    url: server.url,
    jobs: stores.jobs,
    secrets: stores.secrets,
    leases: stores.leases,
    requestCounts,
    chaos(probability, faults, random) {
      chaos = probability > 0 ? { probability, faults, random } : undefined;
    },
    loseAnswerNext(method, resource) {
      losing.add(`${method} ${resource}`);
    },
    afterNext(method, resource, then) {
      afterHooks.set(`${method} ${resource}`, then);
    },
    failNext(method, resource, code, count = 1, after = 0) {
      failures.set(`${method} ${resource}`, { status: code, count, after });
    },
    setNodes(list) {
      nodes = list;
    },
    setReady(name, ready) {
      const job = stores.jobs.get(name);
      if (job === undefined) throw new Error(`no job ${name}`);
      job.status = { ...job.status, ready };
      // A status write is a write: the object's resourceVersion moves, as on a real API server.
      job.metadata.resourceVersion = String(++resourceVersion);
    },
    completeJob(name) {
      const job = stores.jobs.get(name);
      if (job === undefined) throw new Error(`no job ${name}`);
      job.status = { succeeded: 1, conditions: [{ type: 'Complete', status: 'True' }] };
      job.metadata.resourceVersion = String(++resourceVersion);
    },
    failJob(name, exitCode) {
      const job = stores.jobs.get(name);
      if (job === undefined) throw new Error(`no job ${name}`);
      const condition = failedCondition(job, `${name}-x7k2p`, exitCode);
      job.status = {
        failed: 1,
        conditions: [
          { type: 'FailureTarget', status: 'True', ...condition },
          { type: 'Failed', status: 'True', ...condition },
        ],
      };
      job.metadata.resourceVersion = String(++resourceVersion);
    },
    writeKubeconfig(dir) {
      const path = join(dir, 'kubeconfig');
      const kubeconfig = {
        apiVersion: 'v1',
        kind: 'Config',
        // client-node refuses plain http unless TLS verification is off; the stand-in speaks http on loopback.
        clusters: [{ name: 'stand-in', cluster: { server: server.url, 'insecure-skip-tls-verify': true } }],
        users: [{ name: 'stand-in', user: { token: 'stand-in-token' } }],
        contexts: [
          { name: 'stand-in', context: { cluster: 'stand-in', user: 'stand-in', namespace: 'default' } },
        ],
        'current-context': 'stand-in',
      };
      writeFileSync(path, JSON.stringify(kubeconfig));
      return path;
    },
    close: server.close,
  };
}

/**
 * The reason and message of a failed Job's conditions, as kube-controller-manager's Job controller writes them
 * (pkg/controller/job/pod_failure_policy.go): the first rule of the pod failure policy whose container and exit
 * codes match, if its action is FailJob; else the backoff limit.
 */
function failedCondition(
  job: KubeObject,
  pod: string,
  exitCode: number | undefined,
): { reason: string; message: string } {
  const container = 'runner';
  const rules = ((job.spec?.podFailurePolicy as V1PodFailurePolicy | undefined)?.rules ?? []).slice();
  const index = rules.findIndex((rule) => {
    const on = rule.onExitCodes;
    if (on === undefined || exitCode === undefined) return false;
    if (on.containerName !== undefined && on.containerName !== container) return false;
    return on.operator === 'In' ? on.values.includes(exitCode) : !on.values.includes(exitCode);
  });
  if (index >= 0 && rules[index]?.action === 'FailJob') {
    return {
      reason: 'PodFailurePolicy',
      message: `Container ${container} for pod ${job.metadata.namespace ?? 'default'}/${pod} failed with exit code ${exitCode} matching FailJob rule at index ${index}`,
    };
  }
  return { reason: 'BackoffLimitExceeded', message: 'Job has reached the specified backoff limit' };
}
