import type { V1ConfigMap, V1Container } from '@kubernetes/client-node';
import type { Config } from '../config/load-config.js';
import { buildRecordJob } from '../records/build-record-job.js';

/** The ConfigMap `knative/admission-policy.yaml` reads its parameters from, in the runners' namespace. */
export const ADMISSION_PARAMS_NAME = 'kube-actions-runner-admission';

/**
 * The parameters of the admission policy that confines the function's credentials to runner-shaped Jobs: every
 * image a runner pod of this configuration may run (`images`, space-separated) and whether any of its containers
 * is privileged (`allowPrivileged`, only with a `dind` profile). Derived from the Jobs the real builders make for
 * each profile, not from a list kept by hand, so a change to a pod's shape (a new sidecar, another image) changes
 * the policy with it: regenerate and apply it whenever the profiles change (`npm run admission-params`). When a
 * profile follows GitHub's releases (`followRunnerReleases`), the policy also admits the official runner image of
 * any release, `ghcr.io/actions/actions-runner:N.N.N`: its version is chosen when the Job is made, after the
 * parameters were generated.
 */
export function admissionParams(config: Config): V1ConfigMap {
  const images = new Set<string>();
  let privileged = false;
  for (const profile of config.profiles) {
    const job = buildRecordJob(config, profile, {
      owner: 'owner',
      repo: 'repo',
      jobId: 1,
      runId: 1,
      runAttempt: 1,
      deliveryId: 'delivery',
      jobLabels: ['self-hosted'],
    });
    const spec = job.spec?.template.spec;
    const containers: V1Container[] = [...(spec?.containers ?? []), ...(spec?.initContainers ?? [])];
    for (const container of containers) {
      if (container.image !== undefined) images.add(container.image);
      if (container.securityContext?.privileged === true) privileged = true;
    }
  }
  return {
    apiVersion: 'v1',
    kind: 'ConfigMap',
    metadata: {
      name: ADMISSION_PARAMS_NAME,
      namespace: config.namespace,
      labels: { 'app.kubernetes.io/name': 'kube-actions-runner' },
    },
    data: {
      images: [...images].sort().join(' '),
      allowPrivileged: String(privileged),
      followRunnerReleases: String(config.profiles.some((profile) => profile.followsReleases)),
    },
  };
}
