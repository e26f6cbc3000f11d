import type {
  V1Container,
  V1Probe,
  V1ResourceRequirements,
  V1Volume,
  V1VolumeMount,
} from '@kubernetes/client-node';
import { RESTRICTED_CONTAINER, RUNNER_EXTERNALS, RUNNER_WORK } from './runner-pod.js';

/*
 * What the Docker modes share. The runner hands the daemon host paths: the workspace for container steps
 * (`-v /home/runner/_work:/__w`) and the runtimes for container jobs (`-v /home/runner/externals:/__e:ro`). The
 * daemon resolves them in its own filesystem, so both must exist there at the same paths with the same content:
 * the work folder is one volume mounted in both containers, and the externals are copied out of the runner image
 * into a volume the daemon mounts (as actions-runner-controller's dind mode does, `init-dind-externals`).
 */

/** The name of the daemon sidecar in both Docker modes. */
export const DAEMON_CONTAINER = 'dind';

/** Where the runner finds the daemon's socket (its `DOCKER_HOST`), in both Docker modes. */
export const RUNNER_SOCKET_DIR = '/var/run/dind';
export const RUNNER_DOCKER_HOST = `unix://${RUNNER_SOCKET_DIR}/docker.sock`;

/** Volumes that hold what a job writes; a profile's ephemeral-storage limit bounds each (`sizeLimit`). */
export const JOB_DATA_VOLUMES: readonly string[] = ['work', 'docker-data'];

/** The small containers that only prepare files: fixed, small, and bounded. */
export const HELPER_RESOURCES: V1ResourceRequirements = {
  requests: { cpu: '50m', memory: '64Mi' },
  limits: { cpu: '1', memory: '256Mi', 'ephemeral-storage': '64Mi' },
};

/**
 * The daemon asks for little of its own; the work it runs for the job (builds, service containers) runs in its
 * cgroup, so it may use up to the profile's CPU and memory limits. It takes no extended resources (a GPU stays
 * with the runner) and a small ephemeral-storage limit of its own: its images and containers live on the
 * `docker-data` volume, which the profile's ephemeral-storage limit bounds.
 */
export function daemonResources(profile: V1ResourceRequirements): V1ResourceRequirements {
  const limits: Record<string, string> = { 'ephemeral-storage': '1Gi' };
  for (const name of ['cpu', 'memory']) {
    const limit = profile.limits?.[name];
    if (limit !== undefined) limits[name] = limit;
  }
  return { requests: { cpu: '100m', memory: '256Mi' }, limits };
}

/** The mounts the runner needs in a Docker mode: the socket, and the work folder it shares with the daemon. */
export const RUNNER_DOCKER_MOUNTS: V1VolumeMount[] = [
  { name: 'dind-sock', mountPath: RUNNER_SOCKET_DIR },
  { name: 'work', mountPath: RUNNER_WORK },
];

/** The mounts the daemon needs beside its socket: the runner's paths, at the runner's paths. */
export const DAEMON_RUNNER_PATHS: V1VolumeMount[] = [
  { name: 'work', mountPath: RUNNER_WORK },
  { name: 'externals', mountPath: RUNNER_EXTERNALS, readOnly: true },
];

/** Copies the runner image's externals into the volume the daemon mounts at the same path. */
export function externalsCopy(runnerImage: string): V1Container {
  return {
    name: 'externals',
    image: runnerImage,
    command: ['cp', '-r', `${RUNNER_EXTERNALS}/.`, '/externals/'],
    securityContext: RESTRICTED_CONTAINER,
    resources: HELPER_RESOURCES,
    volumeMounts: [{ name: 'externals', mountPath: '/externals' }],
  };
}

/**
 * The kubelet starts the runner only once this succeeds (a native sidecar's startup probe), so the runner never
 * sees a socket that is not there yet.
 */
export function daemonStartupProbe(socket: string): V1Probe {
  return {
    exec: { command: ['docker', `--host=unix://${socket}`, 'info'] },
    periodSeconds: 1,
    failureThreshold: 120,
  };
}

/** The volumes of both Docker modes; the Docker data volume is mounted where each daemon keeps its data. */
export const DOCKER_VOLUMES: V1Volume[] = [
  { name: 'dind-sock', emptyDir: {} },
  { name: 'work', emptyDir: {} },
  // Written once, by the copy of the runner image's own externals: bounded by that image.
  { name: 'externals', emptyDir: {} },
  { name: 'docker-data', emptyDir: {} },
];
