/**
 * Each mode's pod passes the Pod Security Standard it claims, judged by the real PodSecurity admission of the
 * API server: namespaces labelled `pod-security.kubernetes.io/enforce`, and the pod of each mode's Job created
 * there with a server-side dry run (admission runs; nothing is stored). A mode must also fail the next stricter
 * level (its claim is tight), and a deliberately weakened pod must be refused.
 */
import type { V1PodSpec } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config/load-config.js';
import type { RunnerMode } from '../../shared/config/runner-modes.js';
import { buildRecordJob } from '../../shared/records/build-record-job.js';
import { profileOf } from '../support/profiles.js';
import { kubectl, kubectlStatus } from './support/cluster.js';

const LEVELS = ['restricted', 'baseline', 'privileged'] as const;
type Level = (typeof LEVELS)[number];
const CLAIMS: Record<RunnerMode, Level> = {
  standard: 'restricted',
  userns: 'restricted',
  // Rootless dockerd needs seccomp and AppArmor Unconfined (what `--privileged` lifts for it, Docker's docs):
  // beyond baseline, though nothing in the pod is privileged and it runs in a user namespace.
  'dind-rootless': 'privileged',
  dind: 'privileged',
};
const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', NAMESPACE: 'pss-restricted' });

function podOf(mode: RunnerMode, namespace: string, change: (spec: V1PodSpec) => V1PodSpec = (spec) => spec) {
  const job = buildRecordJob(config, profileOf(mode), {
    owner: 'octo-org',
    repo: 'app',
    jobId: 42,
    runId: 1,
    runAttempt: 1,
    deliveryId: 'd',
    hookId: undefined,
    installationId: undefined,
    jobLabels: ['self-hosted'],
  });
  return JSON.stringify({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: `runner-42-${mode}`, namespace },
    spec: change(job.spec?.template.spec as V1PodSpec),
  });
}

/** `kubectl create --dry-run=server`: admission (PodSecurity included) judges the pod; nothing is stored. */
function admit(pod: string, namespace: string): { status: number; output: string } {
  try {
    return {
      status: 0,
      output: kubectl(['create', '--dry-run=server', '-n', namespace, '-f', '-', '-o', 'name'], pod),
    };
  } catch (error) {
    const failure = error as { status?: number; stderr?: string };
    return { status: failure.status ?? 1, output: failure.stderr ?? '' };
  }
}

beforeAll(() => {
  for (const level of LEVELS) {
    kubectl(['create', 'namespace', `pss-${level}`]);
    kubectl([
      'label',
      'namespace',
      `pss-${level}`,
      `pod-security.kubernetes.io/enforce=${level}`,
      'pod-security.kubernetes.io/enforce-version=latest',
    ]);
  }
});
afterAll(() => {
  for (const level of LEVELS) kubectlStatus(['delete', 'namespace', `pss-${level}`, '--wait=false']);
});

describe.each(Object.entries(CLAIMS) as [RunnerMode, Level][])('the %s pod', (mode, claimed) => {
  it(`is admitted at ${claimed}`, () => {
    const answer = admit(podOf(mode, `pss-${claimed}`), `pss-${claimed}`);
    expect(answer.output).toContain(`pod/runner-42-${mode}`);
    expect(answer.status).toBe(0);
  });

  // restricted is the strictest level: a restricted mode has nothing stricter to fail.
  const stricter = LEVELS[LEVELS.indexOf(claimed) - 1];
  if (stricter === undefined) return;
  it(`is refused at ${stricter}`, () => {
    const answer = admit(podOf(mode, `pss-${stricter}`), `pss-${stricter}`);
    expect(answer.status).not.toBe(0);
    expect(answer.output).toContain('violates PodSecurity');
  });
});

it('refuses dind-rootless at baseline only for its daemon: seccomp and AppArmor, nothing privileged', () => {
  const answer = admit(podOf('dind-rootless', 'pss-baseline'), 'pss-baseline');
  expect(answer.status).not.toBe(0);
  expect(answer.output).toContain('violates PodSecurity "baseline:latest"');
  expect(answer.output).toMatch(
    /container "dind" must not set securityContext\.seccompProfile\.type to "Unconfined"/,
  );
  expect(answer.output).toContain('container "dind" must not set AppArmor profile type to "Unconfined"');
  expect(answer.output).not.toMatch(/privileged|capabilities|host namespaces|hostPath/);
});

it('keeps what the rootless daemon needs through admission: user namespace, unmasked /proc, Unconfined', () => {
  const { output } = admit(podOf('dind-rootless', 'pss-privileged'), 'pss-privileged');
  const name = output.trim();
  expect(name).toBe('pod/runner-42-dind-rootless');
  const pod = JSON.parse(
    kubectl(
      ['create', '--dry-run=server', '-n', 'pss-privileged', '-f', '-', '-o', 'json'],
      podOf('dind-rootless', 'pss-privileged'),
    ),
  ) as { spec: V1PodSpec };
  expect(pod.spec.hostUsers).toBe(false);
  const daemon = pod.spec.initContainers?.find((container) => container.name === 'dind');
  expect(daemon?.securityContext).toMatchObject({
    procMount: 'Unmasked',
    seccompProfile: { type: 'Unconfined' },
    appArmorProfile: { type: 'Unconfined' },
    allowPrivilegeEscalation: true,
  });
});

it('refuses a weakened standard pod (privileged runner) at restricted', () => {
  const weakened = podOf('standard', 'pss-restricted', (spec) => ({
    ...spec,
    containers: spec.containers.map((container) => ({
      ...container,
      securityContext: { ...container.securityContext, privileged: true, allowPrivilegeEscalation: true },
    })),
  }));
  const answer = admit(weakened, 'pss-restricted');
  expect(answer.status).not.toBe(0);
  expect(answer.output).toContain('violates PodSecurity "restricted:latest"');
});
