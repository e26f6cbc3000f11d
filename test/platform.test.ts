/**
 * The machine a job asks for (GitHub's `linux`/`windows`/`macOS` and `x64`/`ARM64`/`ARM` labels) becomes the runner
 * pod's `kubernetes.io/os` and `kubernetes.io/arch` node selection, merged with a profile's own placement; a
 * profile that cannot place it does not match, and one that could never place what its own `match` names is an
 * error at start.
 */
import type { V1Affinity } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { type ConfigError, loadConfig } from '../shared/config/load-config.js';
import { jobPlatform } from '../shared/labels/job-platform.js';
import { parseProfiles } from '../shared/profiles/parse-profiles.js';
import { chooseProfile, type RunnerProfile } from '../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../shared/records/build-record-job.js';
import { profileOf } from './support/profiles.js';

const baseEnv = { WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', RUNNER_MODE: 'standard' };
const defaults = { mode: 'standard', image: undefined, dindImage: undefined } as const;

/** The pod a job with these labels gets under a profile, built by the handler's own builder. */
function podOf(profile: RunnerProfile, jobLabels: string[]) {
  const job = buildRecordJob(loadConfig(baseEnv), profile, {
    owner: 'octo-org',
    repo: 'app',
    jobId: 1,
    runId: 2,
    runAttempt: 1,
    deliveryId: 'd',
    jobLabels,
  });
  return job.spec?.template.spec;
}

const OS = 'kubernetes.io/os';
const ARCH = 'kubernetes.io/arch';

describe('labels -> node selection', () => {
  it.each([
    [['self-hosted'], { [OS]: 'linux' }],
    [['self-hosted', 'linux'], { [OS]: 'linux' }],
    [['self-hosted', 'linux', 'x64'], { [OS]: 'linux', [ARCH]: 'amd64' }],
    [['self-hosted', 'linux', 'arm64'], { [OS]: 'linux', [ARCH]: 'arm64' }],
    [['self-hosted', 'Linux', 'ARM64'], { [OS]: 'linux', [ARCH]: 'arm64' }],
    [['self-hosted', 'X64'], { [OS]: 'linux', [ARCH]: 'amd64' }],
    [['self-hosted', 'gpu', 'arm64', 'large'], { [OS]: 'linux', [ARCH]: 'arm64' }],
    // x86_64 and aarch64 are not GitHub's labels: custom labels, which choose nothing.
    [['self-hosted', 'linux', 'aarch64', 'x86_64'], { [OS]: 'linux' }],
  ])('%j -> %j', (labels, selector) => {
    expect(podOf(profileOf('standard'), labels)?.nodeSelector).toEqual(selector);
  });

  it.each([
    [['self-hosted', 'windows'], { os: 'windows' }],
    [['self-hosted', 'macOS', 'ARM64'], { os: 'darwin', arch: 'arm64' }],
    [['self-hosted', 'linux', 'ARM'], { os: 'linux', arch: 'arm' }],
  ])('reads %j as %j', (labels, platform) => {
    expect(jobPlatform(labels)).toEqual({ platform });
  });

  it.each([
    [['self-hosted', 'x64', 'arm64'], 'job asks for more than one architecture (amd64, arm64)'],
    [['self-hosted', 'linux', 'Windows'], 'job asks for more than one operating system (linux, windows)'],
  ])('gives %j no profile: %s', (labels, reason) => {
    expect(jobPlatform(labels)).toEqual({ problem: reason });
    expect(chooseProfile([profileOf('standard')], labels)).toEqual({ reason });
  });
});

describe('merged with a profile', () => {
  const affinity: V1Affinity = {
    nodeAffinity: {
      requiredDuringSchedulingIgnoredDuringExecution: {
        nodeSelectorTerms: [{ matchExpressions: [{ key: 'pool', operator: 'In', values: ['ci'] }] }],
      },
    },
  };

  it("keeps the profile's nodeSelector and affinity beside the job's machine", () => {
    const profile = profileOf('standard', { nodeSelector: { accelerator: 'nvidia' }, affinity });
    const pod = podOf(profile, ['self-hosted', 'gpu', 'arm64']);
    expect(pod?.nodeSelector).toEqual({ [OS]: 'linux', accelerator: 'nvidia', [ARCH]: 'arm64' });
    expect(pod?.affinity).toEqual(affinity);
  });

  it("keeps the profile's own architecture for a job that names none", () => {
    const profile = profileOf('standard', { nodeSelector: { [ARCH]: 'amd64' } });
    expect(podOf(profile, ['self-hosted', 'linux'])?.nodeSelector).toEqual({
      [OS]: 'linux',
      [ARCH]: 'amd64',
    });
    expect(chooseProfile([profile], ['self-hosted', 'linux', 'x64']).profile).toBe(profile);
  });

  it('passes over a profile pinned to another architecture, to the next that fits', () => {
    const profiles = parseProfiles(
      [
        'profiles:',
        '  - name: intel',
        '    match: linux',
        '    nodeSelector: { kubernetes.io/arch: amd64 }',
        '  - name: graviton',
        '    match: linux',
        '    nodeSelector: { kubernetes.io/arch: arm64, pool: graviton }',
      ].join('\n'),
      defaults,
    );
    expect(chooseProfile(profiles, ['self-hosted', 'linux', 'x64']).profile?.name).toBe('intel');
    expect(chooseProfile(profiles, ['self-hosted', 'linux', 'arm64']).profile?.name).toBe('graviton');
    // No architecture named: the first that fits the labels, as before.
    expect(chooseProfile(profiles, ['self-hosted', 'linux']).profile?.name).toBe('intel');
  });

  it.each<[string, RunnerProfile, string]>([
    [
      'a nodeSelector',
      profileOf('standard', { name: 'intel', nodeSelector: { [ARCH]: 'amd64' } }),
      'profile intel pins kubernetes.io/arch=amd64, the job asks for arm64',
    ],
    [
      'a required node affinity (In)',
      profileOf('standard', {
        name: 'intel',
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: ARCH, operator: 'In', values: ['amd64'] }] }],
            },
          },
        },
      }),
      "profile intel's required node affinity admits no node with kubernetes.io/os=linux, kubernetes.io/arch=arm64",
    ],
    [
      'a required node affinity (NotIn, every term)',
      profileOf('standard', {
        name: 'intel',
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: ARCH, operator: 'NotIn', values: ['arm64'] }] },
                { matchExpressions: [{ key: OS, operator: 'In', values: ['windows'] }] },
              ],
            },
          },
        },
      }),
      "profile intel's required node affinity admits no node with kubernetes.io/os=linux, kubernetes.io/arch=arm64",
    ],
  ])('does not match an arm64 job when %s excludes arm64, and says why', (_what, profile, reason) => {
    expect(chooseProfile([profile], ['self-hosted', 'linux', 'arm64'])).toEqual({ reason });
  });

  it('matches when one term of the required affinity admits the machine (terms are ORed)', () => {
    const profile = profileOf('standard', {
      affinity: {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [
              { matchExpressions: [{ key: ARCH, operator: 'In', values: ['amd64'] }] },
              { matchExpressions: [{ key: ARCH, operator: 'Exists' }] },
            ],
          },
        },
      },
    });
    expect(chooseProfile([profile], ['self-hosted', 'arm64']).profile).toBe(profile);
  });

  it.each<[string, string, boolean]>([
    ['DoesNotExist', 'arm64', false],
    ['DoesNotExist', '', false],
    ['Exists', '', true],
    ['NotIn', '', true],
    // Not judged here (numeric operators on a name): left to the scheduler, never called impossible.
    ['Gt', 'arm64', true],
  ])(
    'reads an affinity term on the architecture with %s for a job asking %j: admits %s',
    (operator, arch, admits) => {
      const profile = profileOf('standard', {
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [{ matchExpressions: [{ key: ARCH, operator, values: ['amd64'] }] }],
            },
          },
        },
      });
      const labels = arch === '' ? ['self-hosted'] : ['self-hosted', arch];
      expect(chooseProfile([profile], labels).profile === profile).toBe(admits);
    },
  );
});

describe('an OS or architecture the runner images do not run', () => {
  it.each([
    [['self-hosted', 'windows', 'x64'], 'kubernetes.io/os=windows'],
    [['self-hosted', 'macOS'], 'kubernetes.io/os=darwin'],
    [['self-hosted', 'linux', 'ARM'], 'kubernetes.io/arch=arm'],
  ])('%j gets no profile unless one places it itself: %s', (labels, machine) => {
    const reason = chooseProfile([profileOf('standard')], labels).reason;
    expect(reason).toContain(`job asks for ${machine}`);
    expect(reason).toContain('only a profile with nodeSelector');
  });

  it('is served by a profile whose nodeSelector names it', () => {
    const profiles = parseProfiles(
      [
        'profiles:',
        '  - name: windows',
        '    match: windows',
        '    image: registry.example/windows-runner:1',
        '    nodeSelector: { kubernetes.io/os: windows }',
        '  - name: default',
      ].join('\n'),
      defaults,
    );
    const windows = chooseProfile(profiles, ['self-hosted', 'Windows', 'X64']).profile;
    expect(windows?.name).toBe('windows');
    expect(podOf(windows as RunnerProfile, ['self-hosted', 'Windows', 'X64'])?.nodeSelector).toEqual({
      [OS]: 'windows',
      [ARCH]: 'amd64',
    });
    // The default profile fits a windows job's labels but not its machine: no fallback onto a linux node.
    expect(chooseProfile(profiles.slice(1), ['self-hosted', 'windows']).profile).toBeUndefined();
  });
});

describe('checked at start', () => {
  const problemsOf = (env: Record<string, string>) => {
    try {
      loadConfig({ ...baseEnv, ...env });
      return [];
    } catch (error) {
      return (error as ConfigError).problems;
    }
  };

  it.each([
    [
      'a match its own nodeSelector excludes',
      'profiles:\n  - name: graviton\n    match: linux+arm64\n    nodeSelector: { kubernetes.io/arch: amd64 }\n',
      'RUNNER_PROFILES_FILE: profile "graviton": match "linux+arm64" can never be served: profile graviton pins kubernetes.io/arch=amd64, the job asks for arm64',
    ],
    [
      'a match naming two architectures',
      'profiles:\n  - name: both\n    match: x64+arm64\n',
      'RUNNER_PROFILES_FILE: profile "both": match "x64+arm64" can never be served: job asks for more than one architecture (amd64, arm64)',
    ],
    [
      "GitHub's name where nodes carry Go's",
      'profiles:\n  - name: intel\n    nodeSelector: { kubernetes.io/arch: x64 }\n',
      'RUNNER_PROFILES_FILE: profile "intel": nodeSelector kubernetes.io/arch: x64 is on no node: nodes carry Go\'s name, amd64',
    ],
    [
      'a nodeSelector its own affinity excludes',
      'profiles:\n  - name: odd\n    nodeSelector: { kubernetes.io/arch: arm64 }\n    affinity: { nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [ { matchExpressions: [ { key: kubernetes.io/arch, operator: In, values: [amd64] } ] } ] } } }\n',
      'RUNNER_PROFILES_FILE: profile "odd": profile odd\'s required node affinity admits no node with kubernetes.io/os=linux, kubernetes.io/arch=arm64',
    ],
  ])('refuses %s', (_what, profiles, problem) => {
    expect(problemsOf({ RUNNER_PROFILES: profiles })).toContain(problem);
  });

  it('refuses LABEL_MATCHERS that name an OS the images do not run', () => {
    expect(problemsOf({ LABEL_MATCHERS: 'linux+x64;windows' })).toEqual([
      'LABEL_MATCHERS: match "windows" can never be served: job asks for kubernetes.io/os=windows, which the runner images do not run: only a profile with nodeSelector kubernetes.io/os: windows (and an image for it) serves it',
    ]);
  });

  it("accepts what may or may not conflict with a job (the seed's own example; a broad match on a pinned profile)", () => {
    expect(problemsOf({ LABEL_MATCHERS: 'linux+x64;arm64' })).toEqual([]);
    expect(
      problemsOf({
        RUNNER_PROFILES:
          'profiles:\n  - name: intel\n    match: linux\n    nodeSelector: { kubernetes.io/arch: amd64 }\n',
      }),
    ).toEqual([]);
  });
});
