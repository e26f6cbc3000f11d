import type { V1Job } from '@kubernetes/client-node';
import type { RunnerMode } from '../config/runner-modes.js';
import { KubeApiError } from '../kubernetes/kube-api.js';
import type { RunnerProfile } from '../profiles/runner-profile.js';
import { buildRecordJob } from '../records/build-record-job.js';
import { type Check, type Finding, fail, notRun, pass, warn } from './check.js';
import { API_FAILED, type KubeDoctorContext, reason, requestWith } from './kube-doctor-context.js';
import { sampleLabels, sampleRecordFields } from './sample-record.js';

/** The Pod Security level each mode's pod meets (README, proven by test/e2e/pod-security.test.ts). */
const LEVEL_OF: Readonly<Record<RunnerMode, string>> = {
  standard: 'restricted',
  userns: 'restricted',
  dind: 'privileged',
  'dind-rootless': 'privileged',
};

/**
 * For each profile, the real admission of what the function would make, with server-side dry runs (nothing is
 * stored): the record Job as the function creates it (RBAC, strict field validation, the admission policy), and
 * the Pod the Job controller would then create from it. Pod Security enforces only on Pods: on a Job it at most
 * warns (its `warn` and `audit` levels), so a Job the namespace admits may still never get a pod.
 * https://kubernetes.io/docs/concepts/security/pod-security-admission/#workload-resources-and-pod-templates
 */
export function admissionChecks(context: KubeDoctorContext): Check[] {
  return (context.config?.profiles ?? []).map((profile) => ({
    group: 'kubernetes',
    check: `profile ${profile.name} (${profile.mode}) admitted`,
    run: (signal) => admit(context, profile, signal),
  }));
}

async function admit(
  context: KubeDoctorContext,
  profile: RunnerProfile,
  signal: AbortSignal,
): Promise<Finding> {
  const { config, api, asFunction } = context;
  if (config === undefined) return notRun('the configuration is invalid');
  if (api === undefined || asFunction === undefined) return notRun(API_FAILED);
  if (context.namespaceExists === false) return notRun(`namespace ${config.namespace} does not exist`);
  const namespace = encodeURIComponent(config.namespace);
  const job = buildRecordJob(config, profile, sampleRecordFields(sampleLabels(profile)));
  const warnings: string[] = [];
  try {
    await requestWith(
      asFunction,
      {
        method: 'POST',
        path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
        query: { dryRun: 'All', fieldValidation: 'Strict' },
        body: job,
        onWarnings: (found) => warnings.push(...found),
      },
      signal,
    );
  } catch (error) {
    return jobRefused(error, config.namespace);
  }
  const podSecurityWarnings = warnings.filter((text) => text.includes('PodSecurity'));
  try {
    await requestWith(
      api,
      {
        method: 'POST',
        path: `/api/v1/namespaces/${namespace}/pods`,
        query: { dryRun: 'All' },
        body: podOf(job),
      },
      signal,
    );
  } catch (error) {
    if (error instanceof KubeApiError && error.status === 403 && error.message.includes('PodSecurity')) {
      return fail(
        `the Job is admitted, its pod is not: ${error.message.replace(/^pods "[^"]*" is forbidden: /, '')}`,
        podSecurityFix(profile, config.namespace),
      );
    }
    if (error instanceof KubeApiError && error.status === 403) {
      return warn(
        `the Job is admitted; its pod's Pod Security not judged: these credentials may not create Pods${
          podSecurityWarnings.length > 0 ? `, and the Job drew: ${podSecurityWarnings.join('; ')}` : ''
        }`,
        "run doctor with a kubeconfig that may create Pods (a cluster admin's) and --as system:serviceaccount:NS:NAME for the function",
      );
    }
    return fail(
      `the Job is admitted, its pod is not: ${reason(error)}`,
      'see the message: the pod spec of this profile',
    );
  }
  if (podSecurityWarnings.length > 0) {
    return warn(
      `admitted, with warnings: ${podSecurityWarnings.join('; ')}`,
      podSecurityFix(profile, config.namespace),
    );
  }
  const enforce = context.namespaceLabels?.['pod-security.kubernetes.io/enforce'];
  return pass(
    `the Job and its pod${enforce ? ` (Pod Security enforce=${enforce})` : ''}, by a server-side dry run`,
  );
}

function jobRefused(error: unknown, namespace: string): Finding {
  if (!(error instanceof KubeApiError)) throw error;
  const message = error.message;
  if (error.status === 404) {
    return fail(`the Job is refused: ${message}`, `kubectl create namespace ${namespace}, or set NAMESPACE`);
  }
  if (error.status === 403 && /ValidatingAdmissionPolicy|denied request/i.test(message)) {
    return fail(
      `the admission policy refuses the Job: ${message}`,
      `regenerate its parameters from the profiles: NAMESPACE=${namespace} npm run --silent admission-params -- --profiles FILE | kubectl apply -f -`,
    );
  }
  if (error.status === 403) {
    return fail(
      `the Job is refused: ${message}`,
      `kubectl apply -f knative/rbac.yaml (the function's Role in ${namespace} grants create on jobs)`,
    );
  }
  return fail(
    `the Job is refused: HTTP ${error.status} ${message}`,
    'a field this API server does not know or allow: check the profile against the server version',
  );
}

function podSecurityFix(profile: RunnerProfile, namespace: string): string {
  const level = LEVEL_OF[profile.mode];
  const modes =
    level === 'privileged' ? ' (or give the profile a mode restricted admits: standard, userns)' : '';
  return `mode ${profile.mode} needs Pod Security ${level}: kubectl label namespace ${namespace} pod-security.kubernetes.io/enforce=${level} --overwrite${modes}`;
}

/** The Pod the Job controller would create from the Job's template (its name made up, its labels kept). */
function podOf(job: V1Job) {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: {
      name: `${job.metadata?.name ?? 'runner'}-doctor`,
      namespace: job.metadata?.namespace,
      labels: job.spec?.template.metadata?.labels,
    },
    spec: job.spec?.template.spec,
  };
}
