import type { V1Container, V1Job } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DEFAULT_RUNNER_IMAGES, RUNNER_MODES, type RunnerMode } from '../shared/config/load-config.js';
import { buildJitSecret } from '../shared/modes/build-jit-secret.js';
import { toLabelValue } from '../shared/modes/label-value.js';
import type { RunnerProfile } from '../shared/profiles/runner-profile.js';
import { buildRunnerJob } from '../shared/records/build-runner-job.js';
import { runnerJobName } from '../shared/records/record-schema.js';
import { profileOf } from './support/profiles.js';

function jobFor(mode: RunnerMode, extra: Partial<RunnerProfile> = {}): V1Job {
  return buildRunnerJob({
    profile: profileOf(mode, extra),
    secretName: 'runner-12877621891',
    namespace: 'github-runners',
    ttlSecondsAfterFinished: 300,
    owner: 'lineville',
    repo: 'elastic-machines-testing',
    jobId: 12877621891,
    runId: 4747967848,
    runAttempt: 1,
    deliveryId: '72d3162e-cc78-11e3-81ab-4c9367dc0958',
    jobLabels: ['self-hosted', 'k8s'],
    hookId: 292430182,
    suspend: true,
  });
}

const podOf = (job: V1Job) => job.spec?.template.spec;
const allContainers = (job: V1Job): V1Container[] => [
  ...(podOf(job)?.initContainers ?? []),
  ...(podOf(job)?.containers ?? []),
];

describe.each(RUNNER_MODES)('the %s runner Job', (mode) => {
  const job = jobFor(mode);

  it('matches its reviewed snapshot', () => {
    expect(job).toMatchSnapshot();
  });

  it('is named from the job id, labelled app=github-runner, and cleaned up by TTL', () => {
    expect(job.metadata?.name).toBe('runner-12877621891');
    expect(job.metadata?.namespace).toBe('github-runners');
    expect(job.metadata?.labels).toEqual({
      app: 'github-runner',
      'kube-actions-runner.dev/owner': 'lineville',
      'kube-actions-runner.dev/repo': 'elastic-machines-testing',
      'kube-actions-runner.dev/job-id': '12877621891',
      'kube-actions-runner.dev/profile': 'default',
      'kube-actions-runner.dev/run-id': '4747967848',
      'kube-actions-runner.dev/run-attempt': '1',
    });
    expect(job.spec?.template.metadata?.labels).toEqual(job.metadata?.labels);
    expect(job.spec).toMatchObject({
      ttlSecondsAfterFinished: 300,
      backoffLimit: 0,
      suspend: true,
      activeDeadlineSeconds: 21600,
    });
    expect(podOf(job)?.restartPolicy).toBe('Never');
  });

  it('reads the JIT config from the Secret and never carries it in the spec', () => {
    const runner = podOf(job)?.containers.find((container) => container.name === 'runner');
    expect(runner?.env).toContainEqual({
      name: 'ACTIONS_RUNNER_INPUT_JITCONFIG',
      valueFrom: { secretKeyRef: { name: 'runner-12877621891', key: 'jitconfig' } },
    });
    for (const container of allContainers(job)) {
      for (const env of container.env ?? [])
        expect(env.name === 'ACTIONS_RUNNER_INPUT_JITCONFIG' && env.value).toBeFalsy();
    }
  });

  it('gives the pod no service-account token', () => {
    expect(podOf(job)?.automountServiceAccountToken).toBe(false);
  });

  it('uses the runner image of the mode', () => {
    expect(podOf(job)?.containers[0]?.image).toBe(DEFAULT_RUNNER_IMAGES[mode]);
  });
});

describe('mode differences', () => {
  it('standard: non-root, no escalation, no capabilities, RuntimeDefault seccomp, host users', () => {
    const pod = podOf(jobFor('standard'));
    expect(pod?.hostUsers).toBeUndefined();
    expect(pod?.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: 'RuntimeDefault' },
    });
    expect(pod?.containers).toHaveLength(1);
    expect(pod?.containers[0]?.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      runAsNonRoot: true,
    });
  });

  it('userns: standard in its own user namespace', () => {
    const standard = podOf(jobFor('standard'));
    const userns = podOf(jobFor('userns'));
    expect(userns?.hostUsers).toBe(false);
    expect({ ...userns, hostUsers: undefined }).toEqual(standard);
  });

  it('dind: a privileged docker:dind native sidecar sharing the socket through a volume', () => {
    const pod = podOf(jobFor('dind', { dindImage: 'docker:27-dind' }));
    const sidecar = pod?.initContainers?.find((container) => container.name === 'dind');
    expect(sidecar).toMatchObject({ name: 'dind', image: 'docker:27-dind', restartPolicy: 'Always' });
    expect(sidecar?.securityContext?.privileged).toBe(true);
    const runner = pod?.containers[0];
    expect(runner?.securityContext?.privileged).toBeUndefined();
    expect(runner?.env).toContainEqual({ name: 'DOCKER_HOST', value: 'unix:///var/run/dind/docker.sock' });
    const socketMount = { name: 'dind-sock', mountPath: '/var/run/dind' };
    expect(sidecar?.volumeMounts).toContainEqual(socketMount);
    expect(runner?.volumeMounts).toContainEqual(socketMount);
    expect(pod?.volumes).toContainEqual({ name: 'dind-sock', emptyDir: {} });
  });

  it('dind-rootless: the restricted runner beside an unprivileged rootless daemon, in a user namespace', () => {
    const pod = podOf(jobFor('dind-rootless'));
    expect(pod?.hostUsers).toBe(false);
    const runner = pod?.containers.find((container) => container.name === 'runner');
    expect(pod?.containers).toHaveLength(1);
    expect(runner?.securityContext).toEqual(podOf(jobFor('standard'))?.containers[0]?.securityContext);
    const daemon = pod?.initContainers?.find((container) => container.name === 'dind');
    expect(daemon).toMatchObject({ image: 'docker:29.9.0-dind-rootless', restartPolicy: 'Always' });
    expect(daemon?.securityContext?.privileged).toBeUndefined();
    expect(daemon?.securityContext?.capabilities).toBeUndefined();
    expect(daemon?.securityContext?.runAsNonRoot).toBe(true);
  });

  it('only dind runs anything privileged', () => {
    for (const mode of RUNNER_MODES) {
      const privileged = allContainers(jobFor(mode)).some(
        (container) => container.securityContext?.privileged,
      );
      expect(privileged).toBe(mode === 'dind');
    }
  });
});

describe('buildJitSecret', () => {
  it('holds the JIT config under one key, owned by its Job', () => {
    const secret = buildJitSecret({
      namespace: 'github-runners',
      job: { name: 'runner-1', uid: '2b3c4d5e-0000-4000-8000-000000000001' },
      labels: { app: 'github-runner' },
      encodedJitConfig: 'eyJqaXQiOiJjb25maWcifQ==',
    });
    expect(secret).toEqual({
      apiVersion: 'v1',
      kind: 'Secret',
      type: 'Opaque',
      immutable: true,
      metadata: {
        name: 'runner-1',
        namespace: 'github-runners',
        labels: { app: 'github-runner' },
        ownerReferences: [
          {
            apiVersion: 'batch/v1',
            kind: 'Job',
            name: 'runner-1',
            uid: '2b3c4d5e-0000-4000-8000-000000000001',
            blockOwnerDeletion: false,
          },
        ],
      },
      stringData: { jitconfig: 'eyJqaXQiOiJjb25maWcifQ==' },
    });
  });
});

describe('runnerJobName and toLabelValue', () => {
  it('names a Job from the job id', () => {
    expect(runnerJobName(42)).toBe('runner-42');
  });

  it.each([
    ['Codertocat', 'Codertocat'],
    ['my.repo_name-1', 'my.repo_name-1'],
    ['-.leading-and-trailing._', 'leading-and-trailing'],
    ['weird/chars here', 'weird_chars_here'],
    ['a'.repeat(70), 'a'.repeat(63)],
    [`${'b'.repeat(62)}-tail`, 'b'.repeat(62)],
    ['', ''],
  ])('makes %j a valid label value', (input, expected) => {
    const value = toLabelValue(input);
    expect(value).toBe(expected);
    expect(value).toMatch(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);
    expect(value.length).toBeLessThanOrEqual(63);
  });
});
