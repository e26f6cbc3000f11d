import type { V1PodSpec } from '@kubernetes/client-node';
import type { RunnerPodInput } from './runner-pod.js';
import { standardPodSpec } from './standard.js';

/**
 * `userns`: `standard` in its own user namespace (`hostUsers: false`), so even a root escape inside the pod maps
 * to an unprivileged user on the node. Needs Kubernetes 1.33+, Linux 6.3+ and containerd 2.0+ on the nodes.
 * https://kubernetes.io/docs/concepts/workloads/pods/user-namespaces/
 */
export function usernsPodSpec(input: RunnerPodInput): V1PodSpec {
  return { ...standardPodSpec(input), hostUsers: false };
}
