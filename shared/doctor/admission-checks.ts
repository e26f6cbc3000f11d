import type { V1Job } from '@kubernetes/client-node';
import type { RunnerMode } from '../config/runner-modes.js';
import { KubeApiError } from '../kubernetes/kube-api.js';
import { buildJitSecret } from '../modes/build-jit-secret.js';
import type { RunnerProfile } from '../profiles/runner-profile.js';
import { buildRecordJob } from '../records/build-record-job.js';
import { replacementName, runnerJobName, runnerLabels } from '../records/record-schema.js';
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
 * stored): the record Job as the function creates it (RBAC, strict field validation, the admission policy), a
 * replacement's Job (`runner-<job id>-2`), the JIT Secret of each, and the Pod the Job controller would then create
 * from the Job. Pod Security enforces only on Pods: on a Job it at most
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
  const fields = sampleRecordFields(sampleLabels(profile));
  // A job's own runner, and a replacement (its runner taken by another job, never up, or its pod failed): both
  // are made in the life of a job, so both must be admitted, each with its JIT Secret.
  const replacement = replacementName(fields.jobId, 2);
  const job = buildRecordJob(config, profile, fields);
  const warnings: string[] = [];
  for (const name of [runnerJobName(fields.jobId), replacement]) {
    const made = name === replacement ? 'the replacement' : 'the';
    try {
      await requestWith(
        asFunction,
        {
          method: 'POST',
          path: `/apis/batch/v1/namespaces/${namespace}/jobs`,
          query: { dryRun: 'All', fieldValidation: 'Strict' },
          body: name === replacement ? buildRecordJob(config, profile, fields, undefined, name) : job,
          onWarnings: (found) => warnings.push(...found),
        },
        signal,
      );
    } catch (error) {
      return refused(error, config.namespace, `${made} Job ${name}`, name === replacement);
    }
    try {
      await requestWith(
        asFunction,
        {
          method: 'POST',
          path: `/api/v1/namespaces/${namespace}/secrets`,
          query: { dryRun: 'All', fieldValidation: 'Strict' },
          body: buildJitSecret({
            namespace: config.namespace,
            job: { name, uid: SAMPLE_JOB_UID },
            labels: runnerLabels(fields),
            encodedJitConfig: 'e30=',
          }),
        },
        signal,
      );
    } catch (error) {
      return refused(error, config.namespace, `${made} JIT Secret ${name}`, name === replacement);
    }
  }
  const podSecurityWarnings = [...new Set(warnings.filter((text) => text.includes('PodSecurity')))];
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
    `the Job and its pod${enforce ? ` (Pod Security enforce=${enforce})` : ''}, a replacement's Job (${replacement}), and their Secrets, by server-side dry runs`,
  );
}

/** A made-up uid for the owner reference of a sample JIT Secret (dry runs do not look the owner up). */
const SAMPLE_JOB_UID = '00000000-0000-4000-8000-000000000000';

/** Why `what` (`the Job runner-1`, `the replacement JIT Secret runner-1-2`) was refused, and what mends it. */
function refused(error: unknown, namespace: string, what: string, replacement: boolean): Finding {
  if (!(error instanceof KubeApiError)) throw error;
  const message = error.message;
  if (error.status === 404) {
    return fail(`${what} is refused: ${message}`, `kubectl create namespace ${namespace}, or set NAMESPACE`);
  }
  // A policy's denial is a 403 or, with a validation's reason unset, a 422 Invalid.
  if (/ValidatingAdmissionPolicy/.test(message)) {
    return fail(
      `the admission policy refuses ${what}: ${message}`,
      replacement
        ? 'kubectl apply -f knative/admission-policy.yaml: the shipped policy admits replacement runners (runner-<job id>-<n>) and their Secrets'
        : `regenerate its parameters from the profiles: NAMESPACE=${namespace} npm run --silent admission-params -- --profiles FILE | kubectl apply -f -`,
    );
  }
  if (error.status === 403) {
    return fail(
      `${what} is refused: ${message}`,
      `kubectl apply -f knative/rbac.yaml (the function's Role in ${namespace} grants create on jobs and secrets)`,
    );
  }
  return fail(
    `${what} is refused: HTTP ${error.status} ${message}`,
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
