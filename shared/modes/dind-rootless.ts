import type { V1PodSpec } from '@kubernetes/client-node';
import { basePodSpec, jitConfigEnv, RUNNER_UID, type RunnerPodInput } from './runner-pod.js';

/**
 * `dind-rootless` (the default): one image that starts a rootless Docker daemon beside the runner, inside a pod
 * user namespace (`hostUsers: false`). Rootless dockerd maps its users with the setuid `newuidmap`, so privilege
 * escalation is allowed within the container, and contained by the user namespace: root in the pod is an
 * unprivileged user on the node. The image's own entrypoint starts dockerd and then the runner.
 */
export function dindRootlessPodSpec(input: RunnerPodInput): V1PodSpec {
  const spec = basePodSpec([
    {
      name: 'runner',
      image: input.runnerImage,
      env: [jitConfigEnv(input.secretName)],
      securityContext: {
        allowPrivilegeEscalation: true,
        runAsNonRoot: true,
        runAsUser: RUNNER_UID,
        seccompProfile: { type: 'RuntimeDefault' },
      },
      volumeMounts: [{ name: 'docker-data', mountPath: '/home/runner/.local/share/docker' }],
    },
  ]);
  return {
    ...spec,
    hostUsers: false,
    volumes: [{ name: 'docker-data', emptyDir: {} }],
  };
}
