import { clusterArchitectures, createNodeReader } from '../kubernetes/node-platforms.js';
import { describePlatform, jobPlatform, NODE_ARCH_LABEL, NODE_OS_LABEL } from '../labels/job-platform.js';
import { type Check, notRun, pass, warn } from './check.js';
import { API_FAILED, type KubeDoctorContext } from './kube-doctor-context.js';

/** A job that names no OS runs on linux: every default image is a linux image. */
const DEFAULT_OS = 'linux';

/**
 * The machines the cluster's nodes offer (OS and architecture) set against those the jobs may ask for
 * (`LABEL_MATCHERS`): a job whose machine no node offers waits (with the optional node-reading ClusterRole) or
 * stays Pending (without it). Read as the function, whose permission decides which of the two.
 */
export function nodeChecks(context: KubeDoctorContext): Check[] {
  return [
    {
      group: 'kubernetes',
      check: "nodes for the jobs' machines",
      async run() {
        const api = context.asFunction ?? context.api;
        if (api === undefined) return notRun(API_FAILED);
        // The machines LABEL_MATCHERS lets jobs ask for (a job naming no OS runs on linux).
        const asked = new Map<string, { os: string; arch: string }>();
        for (const matcher of context.config?.labelMatchers ?? []) {
          const platform = jobPlatform(matcher);
          if (!('platform' in platform) || platform.platform.arch === undefined) continue;
          const machine = { os: platform.platform.os ?? DEFAULT_OS, arch: platform.platform.arch };
          asked.set(describePlatform(machine), machine);
        }
        const nodes = await createNodeReader(api).listNodes();
        if (nodes === undefined && asked.size === 0) {
          // Optional, and nothing depends on it: no job names a machine, so every node serves them.
          return pass(
            'nodes not read (the optional knative/node-reader.yaml is not applied); LABEL_MATCHERS names no machine',
          );
        }
        if (nodes === undefined) {
          return warn(
            'the function may not list nodes (knative/node-reader.yaml is not applied): a job asking for a machine no node offers starts anyway, and its pod stays Pending',
            'kubectl apply -f knative/node-reader.yaml (not where nodes are made on demand: Cluster Autoscaler from zero, Karpenter)',
          );
        }
        const platforms = clusterArchitectures(nodes);
        const seen = platforms.map(({ os, arch, nodes: count }) => `${os}/${arch} (${count})`).join(', ');
        const offers = (machine: { os: string; arch: string }) =>
          nodes.some(
            (node) =>
              node.labels[NODE_OS_LABEL] === machine.os && node.labels[NODE_ARCH_LABEL] === machine.arch,
          );
        const missing = [...asked].filter(([, machine]) => !offers(machine)).map(([described]) => described);
        if (missing.length > 0) {
          return warn(
            `${seen || 'no nodes'}; none offers ${missing.join('; ')}, which LABEL_MATCHERS accepts: such jobs wait`,
            'add nodes of that machine, or drop it from LABEL_MATCHERS',
          );
        }
        return pass(`${seen || 'no nodes'}; every machine LABEL_MATCHERS names has a node`);
      },
    },
  ];
}
