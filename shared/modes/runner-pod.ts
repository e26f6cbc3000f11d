import type { V1Container, V1EnvVar, V1PodSpec, V1SecurityContext } from '@kubernetes/client-node';

/** The Secret key holding the encoded JIT config. */
export const JIT_SECRET_KEY = 'jitconfig';

/** The official runner image's user (`runner`, uid 1001) and its `docker` group (gid 123). */
export const RUNNER_UID = 1001;
export const DOCKER_GID = 123;

/** What every mode's pod needs to know. */
export interface RunnerPodInput {
  readonly runnerImage: string;
  readonly dindImage: string;
  /** Name of the Secret holding the JIT config under `JIT_SECRET_KEY`. */
  readonly secretName: string;
}

/**
 * The runner reads `ACTIONS_RUNNER_INPUT_JITCONFIG` as its `--jitconfig` argument, so the JIT config goes from the
 * Secret into the environment and never into the Job spec.
 */
export function jitConfigEnv(secretName: string): V1EnvVar {
  return {
    name: 'ACTIONS_RUNNER_INPUT_JITCONFIG',
    valueFrom: { secretKeyRef: { name: secretName, key: JIT_SECRET_KEY } },
  };
}

/** A container that cannot gain privileges and holds no capabilities. */
export const RESTRICTED_CONTAINER: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ['ALL'] },
  runAsNonRoot: true,
  runAsUser: RUNNER_UID,
  seccompProfile: { type: 'RuntimeDefault' },
};

/** The runner container of the official image, started with its JIT config. */
export function runnerContainer(input: RunnerPodInput, extra: Partial<V1Container> = {}): V1Container {
  return {
    name: 'runner',
    image: input.runnerImage,
    command: ['/home/runner/run.sh'],
    env: [jitConfigEnv(input.secretName), ...(extra.env ?? [])],
    securityContext: RESTRICTED_CONTAINER,
    ...withoutEnv(extra),
  };
}

/** The parts of a runner pod spec that no mode changes. */
export function basePodSpec(containers: V1Container[]): V1PodSpec {
  return {
    restartPolicy: 'Never',
    // A runner talks to GitHub, never to the Kubernetes API: give it no token to steal.
    automountServiceAccountToken: false,
    enableServiceLinks: false,
    securityContext: { seccompProfile: { type: 'RuntimeDefault' } },
    containers,
  };
}

function withoutEnv(container: Partial<V1Container>): Partial<V1Container> {
  const { env: _env, ...rest } = container;
  return rest;
}
