import { withKubeNamespace } from '../config/kube-namespace.js';
import { type Config, ConfigError, loadConfig } from '../config/load-config.js';
import { readSecretFilesInto, SECRET_SETTINGS } from '../config/read-secret-files.js';
import { createGitHubClient } from '../github/github-client.js';
import { createRunnerReleases, releaseTarget } from '../github/runner-releases.js';
import { createHttpFetch } from '../http/http-fetch.js';
import { createKubeApi } from '../kubernetes/kube-api.js';
import type { KubeConnection } from '../kubernetes/kube-connection.js';
import { loadKubeConnection } from '../kubernetes/load-kube-connection.js';
import { type Check, type CheckResult, runChecks } from './check.js';
import { functionChecks, type LoadedConfig } from './function-checks.js';
import { githubChecks } from './github-checks.js';
import { createGitHubDoctorContext } from './github-doctor-context.js';
import type { KubeDoctorContext } from './kube-doctor-context.js';
import { kubernetesChecks } from './kubernetes-checks.js';
import { nodeChecks } from './node-checks.js';
import { redactSecrets, secretsOf } from './redact-secrets.js';
import { webhookChecks } from './webhook-checks.js';

type Env = Readonly<Record<string, string | undefined>>;

export interface DoctorOptions {
  /** The function's environment (`process.env`): its configuration and credentials, read as the function reads them. */
  readonly env: Env;
  /** Repositories to check GitHub permissions on, besides those of RECONCILE_HOOKS. */
  readonly repositories?: readonly { readonly owner: string; readonly repo: string }[];
  /** Labels of a job to render, instead of one sample per profile. */
  readonly labels?: readonly string[];
  /** Judge the function's permissions as this user (`system:serviceaccount:NS:NAME`), impersonated. */
  readonly as?: string;
  /** Longest time one check may take. */
  readonly timeoutMs?: number;
  /** Seams for tests: GitHub's fetch, the Kubernetes connection, the clock. */
  readonly fetch?: typeof fetch;
  readonly connect?: () => KubeConnection;
  readonly now?: () => number;
}

/**
 * Runs every check, the groups side by side (each group's checks in order, each within its timeout), and returns
 * the table's rows with every secret of the configuration scrubbed from them.
 */
export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const connect = options.connect ?? (() => loadKubeConnection(options.env));
  const { loaded, connection } = load(options.env, connect);
  const config = 'config' in loaded ? loaded.config : undefined;
  const httpFetch =
    options.fetch === undefined
      ? createHttpFetch(config === undefined ? {} : { proxy: config.proxy })
      : undefined;
  const fetchImpl = options.fetch ?? (httpFetch as unknown as typeof fetch);
  const context: KubeDoctorContext = { config };
  const groups: Check[][] = [
    kubernetesChecks({
      context,
      connect: () => (connection instanceof Error ? raise(connection) : connection),
      createApi: (connection) => createKubeApi(connection, config?.proxy),
      as: options.as,
    }).concat(nodeChecks(context)),
  ];
  const github =
    config === undefined
      ? undefined
      : createGitHubDoctorContext(config, fetchImpl, options.repositories ?? []);
  if (github !== undefined) groups.push(githubChecks(github), webhookChecks(github, options.now));
  // GitHub's runner releases, read as the function reads them (its client and its credentials), with more time.
  const releases =
    config === undefined || github === undefined
      ? undefined
      : createRunnerReleases({
          github: createGitHubClient({
            baseUrl: config.githubApiUrl,
            fetch: fetchImpl,
            credentials: github.credentials,
            userAgent: 'kube-actions-runner-doctor',
          }),
          target: releaseTarget(config, github.repositories),
          lookupMs: Math.min(5000, timeoutMs / 2),
          ...(options.now ? { now: options.now } : {}),
        });
  try {
    const results = [
      ...(await runChecks(functionChecks(loaded, options.labels, releases, options.now), timeoutMs)),
      ...(await Promise.all(groups.map((checks) => runChecks(checks, timeoutMs)))).flat(),
    ];
    if (config === undefined) {
      results.push({
        group: 'github',
        check: 'credentials and webhooks',
        status: 'warn',
        seen: 'not run: the configuration is invalid',
      });
    }
    const secrets = secretsFrom(options.env, config);
    return results.map((result) => ({
      ...result,
      seen: redactSecrets(result.seen, secrets),
      ...(result.fix === undefined ? {} : { fix: redactSecrets(result.fix, secrets) }),
    }));
  } finally {
    context.api?.close();
    httpFetch?.close();
  }
}

/**
 * The configuration and the Kubernetes connection, read as the function reads them at start (`*_FILE` settings,
 * NAMESPACE from the kubeconfig context or the pod when unset). A connection that cannot be loaded is the
 * Kubernetes checks' to report, not a configuration problem.
 */
function load(
  env: Env,
  connect: () => KubeConnection,
): { loaded: LoadedConfig; connection: KubeConnection | Error } {
  const problems: string[] = [];
  const { env: resolved, unread } = readSecretFilesInto(env, problems);
  let connection: KubeConnection | Error;
  try {
    connection = connect();
  } catch (error) {
    connection = error as Error;
  }
  try {
    const config = loadConfig(
      withKubeNamespace(resolved, connection instanceof Error ? undefined : connection),
    );
    if (problems.length === 0) return { loaded: { config }, connection };
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    // A setting whose file could not be read is named already.
    problems.push(
      ...error.problems.filter((problem) => !unread.some((name) => problem.startsWith(`${name} `))),
    );
  }
  return { loaded: { problems }, connection };
}

function raise(error: Error): never {
  throw error;
}

/** The secrets to scrub: the configuration's, or when it is invalid, the raw values of the secret settings. */
function secretsFrom(env: Env, config: Config | undefined): string[] {
  if (config !== undefined) return secretsOf(config);
  return SECRET_SETTINGS.filter((name) => name !== 'RUNNER_PROFILES')
    .flatMap((name) => (env[name] ?? '').split(/[\n,=]/))
    .map((part) => part.trim())
    .filter((part) => part.length >= 8);
}
