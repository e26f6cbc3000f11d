import type { V1PodSpec } from '@kubernetes/client-node';
import { basePodSpec, RUNNER_UID, type RunnerPodInput, runnerContainer } from './runner-pod.js';

/** `standard`: the runner alone, non-root, no Docker, no privilege escalation, seccomp RuntimeDefault. */
export function standardPodSpec(input: RunnerPodInput): V1PodSpec {
  const spec = basePodSpec([runnerContainer(input)]);
  return {
    ...spec,
    securityContext: {
      ...spec.securityContext,
      runAsNonRoot: true,
      runAsUser: RUNNER_UID,
      fsGroup: RUNNER_UID,
    },
  };
}
