import type { V1Container, V1PodSpec, V1Volume } from '@kubernetes/client-node';
import type { RunnerProfile } from '../profiles/runner-profile.js';
import { DAEMON_CONTAINER, daemonResources, JOB_DATA_VOLUMES } from './docker-daemon.js';

/**
 * Puts a profile's choices on a mode's pod spec: the profile's resources on the runner (the pod asks for what the
 * profile states, once), the daemon's own sizing on a Docker sidecar, the profile's ephemeral-storage limit on
 * the volumes a job writes into, placement (nodeSelector, tolerations, affinity, runtimeClassName), extra env and
 * cache volumes on the runner. Helper init containers keep the small resources their mode gives them. The node
 * selector is the profile's merged with the machine the job asks for (`runnerNodeSelector`); nothing else here
 * comes from a job's labels, which only chose the profile.
 */
export function applyProfile(
  spec: V1PodSpec,
  profile: RunnerProfile,
  nodeSelector: Readonly<Record<string, string>> | undefined = profile.nodeSelector,
): V1PodSpec {
  const mounts = profile.volumes.map((volume) => ({
    name: `cache-${volume.name}`,
    mountPath: volume.mountPath,
    ...(volume.readOnly ? { readOnly: true } : {}),
  }));
  const runner = (container: V1Container): V1Container =>
    container.name !== 'runner'
      ? container
      : {
          ...container,
          resources: profile.resources,
          env: [...(container.env ?? []), ...profile.env],
          ...(mounts.length > 0 ? { volumeMounts: [...(container.volumeMounts ?? []), ...mounts] } : {}),
        };
  const sidecar = (container: V1Container): V1Container =>
    container.name === DAEMON_CONTAINER
      ? { ...container, resources: daemonResources(profile.resources) }
      : container;
  const storage = profile.resources.limits?.['ephemeral-storage'];
  const bounded = (volume: V1Volume): V1Volume =>
    storage !== undefined && volume.emptyDir && JOB_DATA_VOLUMES.includes(volume.name)
      ? { ...volume, emptyDir: { ...volume.emptyDir, sizeLimit: storage } }
      : volume;
  const cacheVolumes = profile.volumes.map((volume) =>
    volume.claimName === undefined
      ? { name: `cache-${volume.name}`, emptyDir: {} }
      : {
          name: `cache-${volume.name}`,
          persistentVolumeClaim: {
            claimName: volume.claimName,
            ...(volume.readOnly ? { readOnly: true } : {}),
          },
        },
  );
  const volumes = [...(spec.volumes ?? []).map(bounded), ...cacheVolumes];
  return {
    ...spec,
    containers: spec.containers.map(runner),
    ...(spec.initContainers ? { initContainers: spec.initContainers.map(sidecar) } : {}),
    ...(volumes.length > 0 ? { volumes } : {}),
    ...(nodeSelector ? { nodeSelector: { ...nodeSelector } } : {}),
    ...(profile.tolerations ? { tolerations: [...profile.tolerations] } : {}),
    ...(profile.affinity ? { affinity: profile.affinity } : {}),
    ...(profile.runtimeClassName ? { runtimeClassName: profile.runtimeClassName } : {}),
  };
}
