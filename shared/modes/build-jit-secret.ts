import type { V1Secret } from '@kubernetes/client-node';
import { JIT_SECRET_KEY } from './runner-pod.js';

export interface JitSecretInput {
  readonly namespace: string;
  /** The runner Job that owns the Secret; the garbage collector deletes the Secret with it. */
  readonly job: { readonly name: string; readonly uid: string };
  readonly labels: Readonly<Record<string, string>>;
  readonly encodedJitConfig: string;
}

/** The Secret holding a runner's JIT config, named like its Job and owned by it. */
export function buildJitSecret(input: JitSecretInput): V1Secret {
  return {
    apiVersion: 'v1',
    kind: 'Secret',
    type: 'Opaque',
    metadata: {
      name: input.job.name,
      namespace: input.namespace,
      labels: { ...input.labels },
      ownerReferences: [
        {
          apiVersion: 'batch/v1',
          kind: 'Job',
          name: input.job.name,
          uid: input.job.uid,
          blockOwnerDeletion: false,
        },
      ],
    },
    immutable: true,
    stringData: { [JIT_SECRET_KEY]: input.encodedJitConfig },
  };
}
