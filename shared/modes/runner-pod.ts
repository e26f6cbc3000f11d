import type { V1Container, V1EnvVar, V1PodSpec, V1SecurityContext } from '@kubernetes/client-node';

/*
 * The contract of GitHub's official runner image, `ghcr.io/actions/actions-runner` (built from actions/runner
 * `images/Dockerfile`, Ubuntu 24.04 based; every mode runs it):
 * - No ENTRYPOINT and no CMD of its own (its base's default is a shell that exits at once): the pod must run
 *   `/home/runner/run.sh`, the runner's start script. With a JIT config it runs one job and exits.
 * - `USER runner`: uid 1001, member of `docker` (gid 123) and `sudo` (passwordless). WORKDIR `/home/runner`,
 *   where the runner is unpacked (owned runner:docker) with `externals/` (the Node.js runtimes it mounts into job
 *   containers at `/__e`) and the default work folder `_work` (`/__w` in job containers).
 * - The Docker CLI and buildx are in the image, no daemon: Docker needs a daemon beside it (`dind`,
 *   `dind-rootless`), reached through `DOCKER_HOST`.
 * - The runner reads every `ACTIONS_RUNNER_INPUT_<NAME>` variable as its `--<name>` option and removes it from the
 *   environment it gives jobs (src/Runner.Listener/CommandSettings.cs): `ACTIONS_RUNNER_INPUT_JITCONFIG` is
 *   `--jitconfig`.
 * - It writes its settings into `/home/runner` at start, so the root filesystem stays writable.
 */

/** The runner's container in every mode's pod: the Job's pod failure policy names it. */
export const RUNNER_CONTAINER = 'runner';

/**
 * The exit code of a runner whose version GitHub refuses ("Runner version vX is deprecated and cannot receive
 * messages"), returned since runner 2.333.0 when `ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE=1`
 * (actions/runner#4285; `run.sh` and `run-helper.sh` pass it through). Without the variable the runner exits 1,
 * which `run-helper.sh` turns into 0: a refused runner would look like one that ran its job.
 */
export const VERSION_DEPRECATED_EXIT_CODE = 7;

/** The Secret key holding the encoded JIT config. */
export const JIT_SECRET_KEY = 'jitconfig';

/** The official runner image's user (`runner`, uid 1001) and its `docker` group (gid 123). */
export const RUNNER_UID = 1001;
export const DOCKER_GID = 123;

/** The runner's start script: the image has no entrypoint of its own. */
export const RUNNER_COMMAND: readonly string[] = ['/home/runner/run.sh'];

/** Where the image keeps the runtimes the runner mounts into job containers (`/__e`). */
export const RUNNER_EXTERNALS = '/home/runner/externals';

/** The runner's default work folder (`/__w` in job containers). */
export const RUNNER_WORK = '/home/runner/_work';

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
    name: RUNNER_CONTAINER,
    image: input.runnerImage,
    command: [...RUNNER_COMMAND],
    env: [
      jitConfigEnv(input.secretName),
      // Exit 7, not 0, when GitHub refuses this runner's version: the Job fails for that reason (see buildRunnerJob).
      { name: 'ACTIONS_RUNNER_RETURN_VERSION_DEPRECATED_EXIT_CODE', value: '1' },
      ...(extra.env ?? []),
    ],
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
