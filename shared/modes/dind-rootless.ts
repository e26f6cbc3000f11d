import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import {
  DAEMON_CONTAINER,
  DAEMON_RUNNER_PATHS,
  DOCKER_VOLUMES,
  daemonStartupProbe,
  externalsCopy,
  HELPER_RESOURCES,
  RUNNER_DOCKER_HOST,
  RUNNER_DOCKER_MOUNTS,
} from './docker-daemon.js';
import { basePodSpec, RESTRICTED_CONTAINER, type RunnerPodInput, runnerContainer } from './runner-pod.js';

/*
 * The contract of Docker's official `docker:<version>-dind-rootless` image (docker-library/docker
 * `29/dind-rootless/Dockerfile`, `dockerd-entrypoint.sh`): `docker:<version>-dind` plus RootlessKit,
 * slirp4netns and fuse-overlayfs; `USER rootless` (uid 1000, gid 1000, HOME /home/rootless), with
 * `rootless:100000:65536` in /etc/subuid and /etc/subgid; data in `/home/rootless/.local/share/docker` (a
 * VOLUME); XDG_RUNTIME_DIR `/run/user/1000`. As a non-root user the entrypoint checks for rootlesskit, subuid and
 * subgid entries for the user, a writable HOME and XDG_RUNTIME_DIR, and that the kernel allows unprivileged user
 * namespaces, then runs `rootlesskit --net=slirp4netns --copy-up=/etc --copy-up=/run docker-init -- dockerd ...`:
 * dockerd is root only inside a user namespace that RootlessKit creates and maps with the setuid `newuidmap` and
 * `newgidmap` from /etc/subuid and /etc/subgid.
 *
 * What that needs from the pod. Docker's own documentation ("Rootless Docker in Docker") runs this image with
 * `--privileged`, "required for disabling seccomp, AppArmor, and mount masks"; in Kubernetes each is a field:
 * - seccomp `Unconfined`: the RuntimeDefault profile allows `unshare`, `mount` and `clone` with namespace flags
 *   only to containers holding CAP_SYS_ADMIN (containerd `contrib/seccomp/seccomp_default.go`).
 * - AppArmor `Unconfined`: the runtime's default profile denies `mount` (only on AppArmor nodes).
 * - `procMount: Unmasked`: the daemon's runc mounts a fresh /proc for every container, which the kernel refuses
 *   while the pod's /proc has masked paths. Kubernetes allows Unmasked only with `hostUsers: false`.
 * - `allowPrivilegeEscalation: true` and the default capabilities (SETUID, SETGID): newuidmap is setuid.
 * - Subordinate IDs inside the pod's own ID range. In a pod user namespace (`hostUsers: false`) the container
 *   has 65536 IDs (by default), so the image's 100000-165535 cannot be mapped (`newuidmap: write to uid_map
 *   failed: Operation not permitted`, docker-library/docker#296). An init container writes /etc/subuid and
 *   /etc/subgid from the pod's own map instead: every ID but the daemon's own, so the daemon sees all 65536.
 * No privileged container and no added capability; but Unconfined seccomp and AppArmor are beyond the Pod Security
 * `baseline` level, so this pod needs a `privileged` namespace. Root in the pod is an unprivileged user on the
 * node (`hostUsers: false`), and dockerd is root only in a user namespace inside that one.
 */

/** The image's user, and where the daemon puts its socket: outside /run and /etc, which RootlessKit copies up. */
const ROOTLESS_UID = 1000;
const DAEMON_SOCKET_DIR = '/dind';
const DAEMON_SOCKET = `${DAEMON_SOCKET_DIR}/docker.sock`;

/**
 * Writes the daemon's subordinate IDs from the pod's ID map: all of them but its own uid. Refuses a pod that runs
 * in the node's user namespace (a node that ignores `hostUsers: false`): there the map is the node's, and the
 * daemon's containers would be given the node's root.
 */
const SUBIDS_SCRIPT = [
  'set -eu',
  'read -r inside outside count < /proc/self/uid_map',
  'if [ "$outside" = 0 ]; then',
  '  echo "dind-rootless needs a pod user namespace (hostUsers: false); this pod runs in the node\'s" >&2',
  '  exit 1',
  'fi',
  `printf 'rootless:0:${ROOTLESS_UID}\\nrootless:${ROOTLESS_UID + 1}:%d\\n' "$((count - ${ROOTLESS_UID + 1}))" > /subids/subuid`,
  'read -r inside outside count < /proc/self/gid_map',
  `printf 'rootless:0:${ROOTLESS_UID}\\nrootless:${ROOTLESS_UID + 1}:%d\\n' "$((count - ${ROOTLESS_UID + 1}))" > /subids/subgid`,
].join('\n');

function subordinateIds(image: string): V1Container {
  return {
    name: 'subids',
    image,
    command: ['sh', '-c', SUBIDS_SCRIPT],
    securityContext: { ...RESTRICTED_CONTAINER, runAsUser: ROOTLESS_UID },
    resources: HELPER_RESOURCES,
    volumeMounts: [{ name: 'subids', mountPath: '/subids' }],
  };
}

/**
 * `dind-rootless` (the default): the official runner image running `run.sh`, restricted as in `standard`, beside
 * Docker's `docker:dind-rootless` as a native sidecar, in a pod user namespace (`hostUsers: false`). The socket is
 * shared through an emptyDir; the daemon creates it owner and group read-write for its uid and gid 1000, so the
 * pod adds gid 1000 to the runner's groups.
 */
export function dindRootlessPodSpec(input: RunnerPodInput): V1PodSpec {
  const runner = runnerContainer(input, {
    env: [{ name: 'DOCKER_HOST', value: RUNNER_DOCKER_HOST }],
    volumeMounts: RUNNER_DOCKER_MOUNTS,
  });
  const spec = basePodSpec([runner]);
  return {
    ...spec,
    hostUsers: false,
    securityContext: { ...spec.securityContext, supplementalGroups: [ROOTLESS_UID] },
    initContainers: [
      externalsCopy(input.runnerImage),
      subordinateIds(input.dindImage),
      {
        name: DAEMON_CONTAINER,
        image: input.dindImage,
        restartPolicy: 'Always',
        // Starting with `dockerd` skips the entrypoint's TCP listener on 0.0.0.0:2375; the socket is enough.
        args: ['dockerd', `--host=unix://${DAEMON_SOCKET}`],
        securityContext: {
          runAsUser: ROOTLESS_UID,
          runAsGroup: ROOTLESS_UID,
          runAsNonRoot: true,
          allowPrivilegeEscalation: true,
          procMount: 'Unmasked',
          seccompProfile: { type: 'Unconfined' },
          appArmorProfile: { type: 'Unconfined' },
        },
        startupProbe: daemonStartupProbe(DAEMON_SOCKET),
        volumeMounts: [
          { name: 'dind-sock', mountPath: DAEMON_SOCKET_DIR },
          ...DAEMON_RUNNER_PATHS,
          { name: 'docker-data', mountPath: '/home/rootless/.local/share/docker' },
          { name: 'subids', mountPath: '/etc/subuid', subPath: 'subuid', readOnly: true },
          { name: 'subids', mountPath: '/etc/subgid', subPath: 'subgid', readOnly: true },
        ],
      },
    ],
    volumes: [...DOCKER_VOLUMES, { name: 'subids', emptyDir: { medium: 'Memory', sizeLimit: '1Mi' } }],
  };
}
