import type { V1PodSpec, V1VolumeMount } from '@kubernetes/client-node';
import { basePodSpec, DOCKER_GID, RUNNER_UID, type RunnerPodInput, runnerContainer } from './runner-pod.js';

const SOCKET_DIR = '/var/run/dind';
const WORK_DIR = '/home/runner/_work';

const sharedMounts: V1VolumeMount[] = [
  { name: 'dind-sock', mountPath: SOCKET_DIR },
  // Container steps bind-mount the workspace; dockerd must see the same files at the same path.
  { name: 'work', mountPath: WORK_DIR },
];

/**
 * `dind`: the runner plus a privileged `docker:dind` daemon. The daemon is a native sidecar (an init container
 * with `restartPolicy: Always`, Kubernetes 1.29+), so the Job completes when the runner exits instead of waiting
 * for dockerd forever. The Docker socket is shared through an emptyDir, owned by the runner's docker group.
 * Privileged: anyone who can run a workflow here is root on the node. Use it only for trusted repositories.
 */
export function dindPodSpec(input: RunnerPodInput): V1PodSpec {
  const runner = runnerContainer(input, {
    env: [{ name: 'DOCKER_HOST', value: `unix://${SOCKET_DIR}/docker.sock` }],
    volumeMounts: sharedMounts,
  });
  const spec = basePodSpec([runner]);
  return {
    ...spec,
    securityContext: { ...spec.securityContext, fsGroup: RUNNER_UID },
    initContainers: [
      {
        name: 'dind',
        image: input.dindImage,
        restartPolicy: 'Always',
        args: ['dockerd', `--host=unix://${SOCKET_DIR}/docker.sock`, `--group=${DOCKER_GID}`],
        // The image's entrypoint only makes TLS certificates when this is set; the socket needs none.
        env: [{ name: 'DOCKER_TLS_CERTDIR', value: '' }],
        securityContext: { privileged: true, runAsUser: 0 },
        startupProbe: {
          exec: { command: ['docker', `--host=unix://${SOCKET_DIR}/docker.sock`, 'info'] },
          periodSeconds: 1,
          failureThreshold: 120,
        },
        volumeMounts: sharedMounts,
      },
    ],
    volumes: [
      { name: 'dind-sock', emptyDir: {} },
      { name: 'work', emptyDir: {} },
    ],
  };
}
