/**
 * What the function needs before it can serve, read from the environment in one pass: the `*_FILE` secrets, the
 * Kubernetes connection and the configuration. Every problem of all three is reported at once, so a new user fixes
 * them in one round instead of one start-up per stage.
 */

import { withKubeNamespace } from '../../shared/config/kube-namespace.js';
import { type Config, ConfigError, loadConfig } from '../../shared/config/load-config.js';
import { readSecretFilesInto } from '../../shared/config/read-secret-files.js';
import type { KubeConnection } from '../../shared/kubernetes/kube-connection.js';
import { loadKubeConnection } from '../../shared/kubernetes/load-kube-connection.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface Startup {
  readonly config: Config;
  readonly kubernetes: KubeConnection;
}

/**
 * Reads the configuration and finds the Kubernetes credentials; throws one ConfigError listing every problem. The
 * seams (`read`, `loadKube`) are for tests; the process passes none.
 */
export function loadStartup(
  env: Env,
  seams: {
    read?: (path: string) => string;
    loadKube?: (env: Env) => KubeConnection;
  } = {},
): Startup {
  const problems: string[] = [];
  const { env: resolved, unread } = readSecretFilesInto(env, problems, seams.read);

  let kubernetes: KubeConnection | undefined;
  let kubeProblem: string | undefined;
  try {
    kubernetes = (seams.loadKube ?? loadKubeConnection)(env);
  } catch (error) {
    kubeProblem = `could not load a Kubernetes config: ${(error as Error).message}`;
  }

  let config: Config | undefined;
  try {
    config = loadConfig(withKubeNamespace(resolved, kubernetes));
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // A setting whose file could not be read is named already: "WEBHOOK_SECRET is required" would only repeat it.
    problems.push(
      ...error.problems.filter((problem) => !unread.some((name) => problem.startsWith(`${name} `))),
    );
  }
  if (kubeProblem !== undefined) problems.push(kubeProblem);
  if (problems.length > 0 || config === undefined || kubernetes === undefined)
    throw new ConfigError(problems);
  return { config, kubernetes };
}
