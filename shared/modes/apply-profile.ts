import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import type { RunnerProfile } from '../profiles/runner-profile.js';

/**
 * Puts a profile's choices on a mode's pod spec: resources on every container, placement (nodeSelector,
 * tolerations, affinity, runtimeClassName), extra env and cache volumes on the runner. Nothing here comes from a
 * job's labels; the labels only chose the profile.
 */
export function applyProfile(spec: V1PodSpec, profile: RunnerProfile): V1PodSpec {
  const mounts = profile.volumes.map((volume) => ({
    name: `cache-${volume.name}`,
    mountPath: volume.mountPath,
    ...(volume.readOnly ? { readOnly: true } : {}),
  }));
  const withResources = (container: V1Container): V1Container => ({
    ...container,
    resources: profile.resources,
  });
  const runner = (container: V1Container): V1Container =>
    container.name !== 'runner'
      ? withResources(container)
      : {
          ...withResources(container),
          env: [...(container.env ?? []), ...profile.env],
          ...(mounts.length > 0 ? { volumeMounts: [...(container.volumeMounts ?? []), ...mounts] } : {}),
        };
  const volumes = profile.volumes.map((volume) =>
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
  return {
    ...spec,
    containers: spec.containers.map(runner),
    ...(spec.initContainers ? { initContainers: spec.initContainers.map(withResources) } : {}),
    ...(volumes.length > 0 ? { volumes: [...(spec.volumes ?? []), ...volumes] } : {}),
    ...(profile.nodeSelector ? { nodeSelector: { ...profile.nodeSelector } } : {}),
    ...(profile.tolerations ? { tolerations: [...profile.tolerations] } : {}),
    ...(profile.affinity ? { affinity: profile.affinity } : {}),
    ...(profile.runtimeClassName ? { runtimeClassName: profile.runtimeClassName } : {}),
  };
}
