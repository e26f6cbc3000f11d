/**
 * The install's own rules on the real API server, for the suites that drive the function: `knative/rbac.yaml`,
 * `knative/admission-policy.yaml` and its parameters as `npm run admission-params` makes them, with the function
 * acting as its ServiceAccount (a TokenRequest token), so a rule that disagrees with the lifecycle fails a test.
 * The policy binds cluster-wide: a suite that installs it removes it before the next suite runs.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Job } from '@kubernetes/client-node';
import { dump, loadAll } from 'js-yaml';
import { inject } from 'vitest';
import { admissionParams } from '../../../shared/admission/admission-params.js';
import type { Config } from '../../../shared/config/load-config.js';
import { buildJitSecret } from '../../../shared/modes/build-jit-secret.js';
import { buildRecordJob } from '../../../shared/records/build-record-job.js';
import { runnerLabels } from '../../../shared/records/record-schema.js';
import { ensureNamespace, kubectl, kubectlStatus, serviceAccountKubeconfig, waitFor } from './cluster.js';

const knative = fileURLToPath(new URL('../../../knative/', import.meta.url));
export const POLICY = `${knative}admission-policy.yaml`;
/** Where knative/rbac.yaml puts the function's ServiceAccount, the one the policy's matchConditions name. */
export const FUNCTION_NAMESPACE = 'github-runners';
export const ACCOUNT = 'kube-actions-runner';
/** The runners' namespace of the shipped install. */
export const RUNNERS = 'github-runner-jobs';

/**
 * Applies knative/rbac.yaml, its Role and RoleBinding moved to `runners` when that is another namespace (the
 * fault run's), and returns a kubeconfig of the function's ServiceAccount.
 */
export function shippedRbac(runners = RUNNERS): string {
  ensureNamespace(FUNCTION_NAMESPACE);
  ensureNamespace(runners);
  const documents = loadAll(readFileSync(`${knative}rbac.yaml`, 'utf8')) as {
    kind: string;
    metadata: { namespace?: string };
  }[];
  for (const document of documents) {
    if (document.kind === 'Namespace') continue;
    if (document.metadata.namespace === RUNNERS) document.metadata.namespace = runners;
    kubectl(['apply', '-f', '-'], JSON.stringify(document));
  }
  return serviceAccountKubeconfig(mkdtempSync(join(tmpdir(), 'kar-policy-')), FUNCTION_NAMESPACE, ACCOUNT);
}

/** A server-side dry-run create with these credentials: the answer of authorization and admission. */
export function dryRunCreate(kubeconfig: string, object: unknown): { admitted: boolean; output: string } {
  try {
    const output = execFileSync(
      inject('kubectl'),
      ['--kubeconfig', kubeconfig, 'create', '--dry-run=server', '-f', '-', '-o', 'name'],
      { encoding: 'utf8', input: JSON.stringify(object), stdio: ['pipe', 'pipe', 'pipe'] },
    );
    return { admitted: true, output };
  } catch (error) {
    return { admitted: false, output: (error as { stderr?: string }).stderr ?? '' };
  }
}

/** The record Job of `config`'s first profile, and the same Job on the host network (which the policy refuses). */
function probes(config: Config): { fit: V1Job; unfit: V1Job } {
  const profile = config.profiles[0];
  if (profile === undefined) throw new Error('the configuration has no profile');
  const fit = buildRecordJob(config, profile, {
    owner: 'octo-org',
    repo: 'probe',
    jobId: 1,
    runId: 1,
    runAttempt: 1,
    deliveryId: 'probe',
    jobLabels: ['self-hosted'],
  });
  const unfit = structuredClone(fit);
  if (unfit.spec?.template.spec) unfit.spec.template.spec.hostNetwork = true;
  return { fit, unfit };
}

/**
 * Installs the shipped policy with the parameters generated for `config` (in `config.namespace`), and waits until
 * the API server judges by them: the function's Job admitted, one on the host network refused (policies and
 * parameters reach the API server's cache a moment after they are written).
 */
export async function installShippedPolicy(config: Config, functionKubeconfig: string): Promise<void> {
  kubectl(['apply', '-f', POLICY]);
  kubectl(['apply', '-f', '-'], dump(admissionParams(config)));
  const { fit, unfit } = probes(config);
  await waitFor(
    'the shipped admission policy to be in force',
    () =>
      dryRunCreate(functionKubeconfig, fit).admitted && !dryRunCreate(functionKubeconfig, unfit).admitted
        ? true
        : undefined,
    60_000,
  );
}

/** Removes the policy, and waits until the API server no longer judges by it (the next suite runs without it). */
export async function removeShippedPolicy(config: Config, functionKubeconfig: string): Promise<void> {
  kubectlStatus(['delete', '-f', POLICY, '--ignore-not-found']);
  const { unfit } = probes(config);
  await waitFor(
    'the admission policy to be gone',
    () => (dryRunCreate(functionKubeconfig, unfit).admitted ? true : undefined),
    60_000,
  );
}

/** The record fields of job 42 of octo-org/app, the job the policy tests make Jobs and Secrets for. */
const JOB_42 = {
  owner: 'octo-org',
  repo: 'app',
  jobId: 42,
  runId: 1,
  runAttempt: 1,
  deliveryId: 'd',
  jobLabels: ['self-hosted'],
};

/** The Job the function records for job 42 under `name` (a first runner or a replacement), by the real builder. */
export function recordJob(config: Config, name: string): V1Job {
  const profile = config.profiles[0];
  if (profile === undefined) throw new Error('no profile');
  return buildRecordJob(config, profile, JOB_42, undefined, name);
}

/** The JIT Secret the function makes for the Job `name` of job 42, by the real builder. */
export const jitSecret = (namespace: string, name: string) =>
  buildJitSecret({
    namespace,
    job: { name, uid: '5f2a8a5e-4e1c-4c1e-9d1a-6c4b1f0e2d3c' },
    labels: runnerLabels(JOB_42),
    encodedJitConfig: 'e30=',
  });
