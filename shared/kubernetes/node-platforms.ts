import { NODE_ARCH_LABEL, NODE_OS_LABEL } from '../labels/job-platform.js';
import type { Deadline } from '../retry/with-retries.js';
import type { KubeApi } from './kube-api.js';

/** Nodes are cluster-scoped: listing them needs a ClusterRole (knative/node-reader.yaml), which is optional. */
const NODES = '/api/v1/nodes';
/** Only the nodes' metadata, not their status (images, conditions): a fraction of the bytes of a full list. */
const METADATA_ONLY = 'application/json;as=PartialObjectMetadataList;g=meta.k8s.io;v=v1,application/json';

/** A node as far as placement goes: its name and labels. */
export interface NodeLabels {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
}

/** What the cluster's nodes offer, read when the function may list nodes. */
export interface NodeReader {
  /**
   * Whether some node carries every one of these labels: `undefined` when that cannot be known (no permission to
   * list nodes, or the API server did not answer in time). Answers are kept for a while (`cacheMs`): nodes come
   * and go in minutes, deliveries in milliseconds.
   */
  hasNode(labels: Readonly<Record<string, string>>, deadline?: Deadline): Promise<boolean | undefined>;
  /** Every node's name and labels, or `undefined` when nodes may not be listed. */
  listNodes(deadline?: Deadline): Promise<NodeLabels[] | undefined>;
}

/** How long answers are kept and how long a question may take; the clock, for tests. */
export interface NodeReaderOptions {
  /** How long an answer of `hasNode` is kept. */
  readonly cacheMs?: number;
  /** Longest single request: the answer is optional, never worth a delivery's budget. */
  readonly requestTimeoutMs?: number;
  readonly now?: () => number;
}

type MetadataList = {
  items?: { metadata?: { name?: string; labels?: Record<string, string> } }[];
  metadata?: { continue?: string };
};

/**
 * Reads nodes through the API server, one attempt a question: a failure (403 without the ClusterRole, a timeout)
 * is "unknown", and the caller goes on as if it had not asked.
 */
export function createNodeReader(api: KubeApi, options: NodeReaderOptions = {}): NodeReader {
  const { cacheMs = 15_000, requestTimeoutMs = 2000, now = Date.now } = options;
  // The answer's promise is kept, so that a burst of deliveries asking at once makes one call.
  const answers = new Map<string, { answer: Promise<boolean | undefined>; at: number }>();
  const timeout = (deadline: Deadline | undefined) =>
    AbortSignal.timeout(Math.max(1, Math.min(requestTimeoutMs, (deadline?.at ?? Infinity) - Date.now())));

  async function list(query: Record<string, string | number | undefined>, deadline?: Deadline) {
    return api.request<MetadataList>({
      method: 'GET',
      path: NODES,
      query,
      accept: METADATA_ONLY,
      signal: timeout(deadline),
    });
  }

  return {
    async hasNode(labels, deadline) {
      const selector = Object.entries(labels)
        .sort(([a], [b]) => a.localeCompare(b))
        .map(([key, value]) => `${key}=${value}`)
        .join(',');
      const kept = answers.get(selector);
      if (kept !== undefined && now() - kept.at < cacheMs) return kept.answer;
      // One node is enough to know: `limit=1` keeps the answer small in any cluster.
      const answer = list({ labelSelector: selector, limit: 1 }, deadline).then(
        (found) => (found.items ?? []).length > 0,
        () => undefined,
      );
      answers.set(selector, { answer, at: now() });
      return answer;
    },
    async listNodes(deadline) {
      const nodes: NodeLabels[] = [];
      let page: string | undefined;
      try {
        do {
          const answer = await list({ limit: 500, continue: page }, deadline);
          for (const item of answer.items ?? []) {
            nodes.push({ name: item.metadata?.name ?? '', labels: item.metadata?.labels ?? {} });
          }
          page = answer.metadata?.continue || undefined;
        } while (page !== undefined);
      } catch {
        return undefined;
      }
      return nodes;
    },
  };
}

/** How many nodes of one OS and architecture the cluster has. */
export interface ClusterPlatform {
  readonly os: string;
  readonly arch: string;
  readonly nodes: number;
}

/**
 * The OS and architecture pairs of the cluster's nodes (`kubernetes.io/os`, `kubernetes.io/arch`; `unknown` where
 * a node lacks one), with how many nodes each, sorted: what `doctor` sets against what the profiles serve. Pure.
 */
export function clusterArchitectures(nodes: readonly NodeLabels[]): ClusterPlatform[] {
  const counts = new Map<string, ClusterPlatform>();
  for (const node of nodes) {
    const os = node.labels[NODE_OS_LABEL] ?? 'unknown';
    const arch = node.labels[NODE_ARCH_LABEL] ?? 'unknown';
    const key = `${os}/${arch}`;
    counts.set(key, { os, arch, nodes: (counts.get(key)?.nodes ?? 0) + 1 });
  }
  return [...counts.values()].sort((a, b) => `${a.os}/${a.arch}`.localeCompare(`${b.os}/${b.arch}`));
}
