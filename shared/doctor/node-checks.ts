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
        const nodes = await createNodeReader(api).listNodes();
        if (nodes === undefined) {
          return warn(
            'the function may not list nodes (knative/node-reader.yaml is not applied): a job asking for a machine no node offers starts anyway, and its pod stays Pending',
            'kubectl apply -f knative/node-reader.yaml (not where nodes are made on demand: Cluster Autoscaler from zero, Karpenter)',
          );
        }
        const platforms = clusterArchitectures(nodes);
        const seen = platforms.map(({ os, arch, nodes: count }) => `${os}/${arch} (${count})`).join(', ');
        const missing = new Set<string>();
        for (const matcher of context.config?.labelMatchers ?? []) {
          const asked = jobPlatform(matcher);
          if (!('platform' in asked) || asked.platform.arch === undefined) continue;
          const os = asked.platform.os ?? DEFAULT_OS;
          const offered = nodes.some(
            (node) =>
              node.labels[NODE_OS_LABEL] === os && node.labels[NODE_ARCH_LABEL] === asked.platform.arch,
          );
          if (!offered) missing.add(describePlatform({ os, arch: asked.platform.arch }));
        }
        if (missing.size > 0) {
          return warn(
            `${seen || 'no nodes'}; none offers ${[...missing].join('; ')}, which LABEL_MATCHERS accepts: such jobs wait`,
            'add nodes of that machine, or drop it from LABEL_MATCHERS',
          );
        }
        return pass(`${seen || 'no nodes'}; every machine LABEL_MATCHERS names has a node`);
      },
    },
  ];
}
