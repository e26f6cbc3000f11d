import type { V1PodSpec } from '@kubernetes/client-node';
import {
  DAEMON_CONTAINER,
  DAEMON_RUNNER_PATHS,
  DOCKER_VOLUMES,
  daemonStartupProbe,
  externalsCopy,
  RUNNER_DOCKER_HOST,
  RUNNER_DOCKER_MOUNTS,
  RUNNER_SOCKET_DIR,
} from './docker-daemon.js';
import { basePodSpec, DOCKER_GID, RUNNER_UID, type RunnerPodInput, runnerContainer } from './runner-pod.js';

/*
 * The contract of Docker's official `docker:<version>-dind` image (docker-library/docker `29/dind/Dockerfile` and
 * `dockerd-entrypoint.sh`): Alpine, runs as root, ENTRYPOINT `dockerd-entrypoint.sh`, data in `/var/lib/docker`
 * (a VOLUME). Arguments that start with `dockerd` are run as given (wrapped in `docker-init`), skipping the
 * entrypoint's defaults of a TCP listener on 0.0.0.0:2375/2376 and TLS certificates. Under cgroup v2 it moves
 * dockerd into a cgroup namespace of its own, so the job's containers stay inside the pod's cgroup and limits. It
 * mounts filesystems, sets up iptables and cgroups: it must be privileged.
 */

/** `/var/run` is `/run` in Alpine; the daemon's socket directory, shared with the runner. */
const DAEMON_SOCKET = `${RUNNER_SOCKET_DIR}/docker.sock`;

/**
 * `dind`: the runner plus a privileged `docker:dind` daemon. The daemon is a native sidecar (an init container
 * with `restartPolicy: Always`, Kubernetes 1.29+), so the Job completes when the runner exits instead of waiting
 * for dockerd forever. The socket is shared through an emptyDir and owned by the runner's `docker` group.
 * Privileged: anyone who can run a workflow here is root on the node. Use it only for trusted repositories.
 */
export function dindPodSpec(input: RunnerPodInput): V1PodSpec {
  const runner = runnerContainer(input, {
    env: [{ name: 'DOCKER_HOST', value: RUNNER_DOCKER_HOST }],
    volumeMounts: RUNNER_DOCKER_MOUNTS,
  });
  const spec = basePodSpec([runner]);
  return {
    ...spec,
    securityContext: { ...spec.securityContext, fsGroup: RUNNER_UID },
    initContainers: [
      externalsCopy(input.runnerImage),
      {
        name: DAEMON_CONTAINER,
        image: input.dindImage,
        restartPolicy: 'Always',
        args: ['dockerd', `--host=unix://${DAEMON_SOCKET}`, `--group=${DOCKER_GID}`],
        securityContext: { privileged: true, runAsUser: 0 },
        startupProbe: daemonStartupProbe(DAEMON_SOCKET),
        volumeMounts: [
          { name: 'dind-sock', mountPath: RUNNER_SOCKET_DIR },
          ...DAEMON_RUNNER_PATHS,
          { name: 'docker-data', mountPath: '/var/lib/docker' },
        ],
      },
    ],
    volumes: DOCKER_VOLUMES,
  };
}
