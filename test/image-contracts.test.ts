/**
 * Each mode's pod against the documented contract of the images it runs, written down here from the publishers'
 * own sources (not from our builders), so that a change to a builder that breaks an image's contract fails:
 * - the runner: actions/runner `images/Dockerfile` (no ENTRYPOINT/CMD, USER runner 1001, group docker 123,
 *   /home/runner with `run.sh`, `externals/`, `_work`) and `src/Runner.Listener/CommandSettings.cs`
 *   (`ACTIONS_RUNNER_INPUT_<NAME>` is the `--<name>` option);
 * - the daemons: docker-library/docker `29/dind/Dockerfile`, `29/dind-rootless/Dockerfile` and
 *   `dockerd-entrypoint.sh` (arguments starting with `dockerd` skip the TCP listener; rootless runs as uid 1000
 *   under RootlessKit, data in /home/rootless/.local/share/docker, subordinate IDs from /etc/subuid and
 *   /etc/subgid), Docker's "Rootless Docker in Docker" (privileged only to lift seccomp, AppArmor and the /proc
 *   masks), Kubernetes (`procMount: Unmasked` needs `hostUsers: false`);
 * - what the runner hands the daemon: `-v /home/runner/_work:/__w` and `-v /home/runner/externals:/__e:ro`.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { V1Container, V1PodSpec } from '@kubernetes/client-node';
import { describe, expect, it } from 'vitest';
import { DEFAULT_DIND_IMAGES, RUNNER_MODES, type RunnerMode } from '../shared/config/runner-modes.js';
import { parseProfiles } from '../shared/profiles/parse-profiles.js';
import type { RunnerProfile } from '../shared/profiles/runner-profile.js';
import { buildRunnerJob } from '../shared/records/build-runner-job.js';
import { profileOf } from './support/profiles.js';
import { tempDir } from './support/temp-dir.js';

const RUNNER = {
  image: /^ghcr\.io\/actions\/actions-runner:\d+\.\d+\.\d+$/,
  command: ['/home/runner/run.sh'],
  uid: 1001,
  dockerGid: 123,
  work: '/home/runner/_work',
  externals: '/home/runner/externals',
};
const DIND = { image: /^docker:\d+\.\d+\.\d+-dind$/, dataRoot: '/var/lib/docker' };
const DIND_ROOTLESS = {
  image: /^docker:\d+\.\d+\.\d+-dind-rootless$/,
  uid: 1000,
  dataRoot: '/home/rootless/.local/share/docker',
};
const DOCKER_MODES: readonly RunnerMode[] = ['dind', 'dind-rootless'];

const example = readFileSync(new URL('../examples/runner-profiles.yaml', import.meta.url), 'utf8');
const exampleProfiles = parseProfiles(example, {
  mode: 'dind-rootless',
  image: undefined,
  dindImage: undefined,
});

function podFor(profile: RunnerProfile): V1PodSpec {
  const spec = buildRunnerJob({
    profile,
    secretName: 'runner-7',
    namespace: 'ci',
    ttlSecondsAfterFinished: 300,
    owner: 'octo-org',
    repo: 'app',
    jobId: 7,
    runId: 8,
    runAttempt: 1,
    deliveryId: 'd',
    jobLabels: ['self-hosted'],
    suspend: true,
  }).spec?.template.spec;
  if (spec === undefined) throw new Error('no pod spec');
  return spec;
}

const named = (containers: V1Container[] | undefined, name: string): V1Container => {
  const container = containers?.find((candidate) => candidate.name === name);
  if (container === undefined) throw new Error(`no container ${name}`);
  return container;
};
const envOf = (container: V1Container, name: string) => container.env?.find((env) => env.name === name);
const mountAt = (container: V1Container, path: string) =>
  container.volumeMounts?.find((mount) => mount.mountPath === path);
const hostArgument = (daemon: V1Container) =>
  (daemon.args ?? []).filter((arg) => arg.startsWith('--host=')).map((arg) => arg.slice('--host='.length));

/** The volume and file name a `unix://` socket address lands on, as seen from one container. */
function socketVolume(container: V1Container, address: string): { volume: string; file: string } {
  expect(address).toMatch(/^unix:\/\/\//);
  const path = address.slice('unix://'.length);
  const dir = path.slice(0, path.lastIndexOf('/'));
  const mount = mountAt(container, dir);
  expect(mount, `${container.name} mounts a volume at ${dir}`).toBeDefined();
  return { volume: mount?.name ?? '', file: path.slice(path.lastIndexOf('/') + 1) };
}

const cases = RUNNER_MODES.flatMap((mode) => [
  [mode, 'default', profileOf(mode)] as const,
  // Each example profile in each mode, with the mode's default daemon image (the file names none).
  ...exampleProfiles.map(
    (profile) => [mode, profile.name, { ...profile, mode, dindImage: DEFAULT_DIND_IMAGES[mode] }] as const,
  ),
]);

describe.each(cases)('the %s pod of the %s profile', (mode, _name, profile) => {
  const pod = podFor(profile);
  const runner = named(pod.containers, 'runner');

  it('runs the official runner image as its Dockerfile expects', () => {
    expect(runner.image).toMatch(RUNNER.image);
    expect(runner.command).toEqual(RUNNER.command);
    expect(runner.args).toBeUndefined();
    expect(runner.securityContext?.runAsUser ?? pod.securityContext?.runAsUser).toBe(RUNNER.uid);
    // The runner writes its settings into /home/runner at start.
    expect(runner.securityContext?.readOnlyRootFilesystem).not.toBe(true);
    expect(mountAt(runner, '/home/runner')).toBeUndefined();
  });

  it('gives the runner its JIT config as --jitconfig, from the Secret', () => {
    expect(envOf(runner, 'ACTIONS_RUNNER_INPUT_JITCONFIG')).toEqual({
      name: 'ACTIONS_RUNNER_INPUT_JITCONFIG',
      valueFrom: { secretKeyRef: { name: 'runner-7', key: 'jitconfig' } },
    });
  });

  if (!DOCKER_MODES.includes(mode)) {
    it('has no Docker daemon and no DOCKER_HOST', () => {
      expect(pod.initContainers).toBeUndefined();
      expect(envOf(runner, 'DOCKER_HOST')).toBeUndefined();
    });
    return;
  }

  // Looked up without throwing, so that a pod without a daemon fails each contract below on its own.
  const daemon = pod.initContainers?.find((container) => container.name === 'dind') ?? { name: 'missing' };
  const initContainers = pod.initContainers ?? [];
  const volume = (name: string) => pod.volumes?.find((candidate) => candidate.name === name);

  it('runs the daemon as a native sidecar that is up before the runner starts', () => {
    expect(daemon.restartPolicy).toBe('Always');
    const [socket] = hostArgument(daemon);
    expect(daemon.startupProbe?.exec?.command).toEqual(['docker', `--host=${socket}`, 'info']);
  });

  it('starts dockerd on a unix socket only (no TCP listener of the entrypoint)', () => {
    expect(daemon.command).toBeUndefined();
    expect(daemon.args?.[0]).toBe('dockerd');
    const hosts = hostArgument(daemon);
    expect(hosts).toHaveLength(1);
    expect(hosts[0]).toMatch(/^unix:\/\/\//);
  });

  it("points the runner's DOCKER_HOST at the daemon's socket, through one shared volume", () => {
    const address = envOf(runner, 'DOCKER_HOST')?.value ?? '';
    const [daemonAddress] = hostArgument(daemon);
    expect(socketVolume(runner, address)).toEqual(socketVolume(daemon, daemonAddress ?? ''));
  });

  it('lets the daemon see the work folder and the externals at the paths the runner hands it', () => {
    const work = mountAt(daemon, RUNNER.work);
    expect(work?.name).toBe(mountAt(runner, RUNNER.work)?.name);
    expect(volume(work?.name ?? '')?.emptyDir).toBeDefined();
    const externals = mountAt(daemon, RUNNER.externals);
    expect(externals?.readOnly).toBe(true);
    // Filled from the runner image's own externals by an init container that runs before the daemon.
    const copy = initContainers.findIndex(
      (container) =>
        container.image === runner.image &&
        container.volumeMounts?.some((mount) => mount.name === externals?.name) === true &&
        (container.command ?? []).join(' ').includes(`${RUNNER.externals}/.`),
    );
    expect(copy).toBeGreaterThanOrEqual(0);
    expect(copy).toBeLessThan(initContainers.indexOf(daemon));
    expect(initContainers[copy]?.restartPolicy).toBeUndefined();
  });

  it('keeps Docker data on a volume bounded by the profile', () => {
    const root = mode === 'dind' ? DIND.dataRoot : DIND_ROOTLESS.dataRoot;
    const data = volume(mountAt(daemon, root)?.name ?? '');
    expect(data?.emptyDir?.sizeLimit).toBe(profile.resources.limits?.['ephemeral-storage']);
  });

  if (mode === 'dind') {
    it('runs docker:dind privileged as root, the socket owned by the runner image docker group', () => {
      expect(daemon.image).toMatch(DIND.image);
      expect(daemon.securityContext?.privileged).toBe(true);
      expect(daemon.securityContext?.runAsUser ?? 0).toBe(0);
      expect(daemon.args).toContain(`--group=${RUNNER.dockerGid}`);
    });
    return;
  }

  it('runs docker:dind-rootless as its rootless user, unprivileged', () => {
    expect(daemon.image).toMatch(DIND_ROOTLESS.image);
    expect(daemon.securityContext?.runAsUser).toBe(DIND_ROOTLESS.uid);
    expect(daemon.securityContext?.privileged).not.toBe(true);
    expect(daemon.securityContext?.capabilities?.add).toBeUndefined();
  });

  it('lifts exactly what --privileged would lift for rootless Docker: seccomp, AppArmor, /proc masks', () => {
    expect(daemon.securityContext?.seccompProfile?.type).toBe('Unconfined');
    expect(daemon.securityContext?.appArmorProfile?.type).toBe('Unconfined');
    expect(daemon.securityContext?.procMount).toBe('Unmasked');
    // Kubernetes allows an unmasked /proc only in a pod user namespace.
    expect(pod.hostUsers).toBe(false);
  });

  it('lets the setuid newuidmap and newgidmap work: escalation allowed, SETUID and SETGID kept', () => {
    expect(daemon.securityContext?.allowPrivilegeEscalation).toBe(true);
    const dropped = daemon.securityContext?.capabilities?.drop ?? [];
    for (const capability of ['ALL', 'SETUID', 'SETGID']) expect(dropped).not.toContain(capability);
  });

  it('gives the daemon subordinate IDs written before it starts', () => {
    const subuid = mountAt(daemon, '/etc/subuid');
    const subgid = mountAt(daemon, '/etc/subgid');
    expect(subuid?.subPath).toBe('subuid');
    expect(subgid?.subPath).toBe('subgid');
    const writer = initContainers.findIndex(
      (container) =>
        container !== daemon && container.volumeMounts?.some((mount) => mount.name === subuid?.name) === true,
    );
    expect(writer).toBeGreaterThanOrEqual(0);
    expect(writer).toBeLessThan(initContainers.indexOf(daemon));
  });

  it("lets the runner use the socket rootless dockerd makes (0660, the daemon's uid and gid)", () => {
    expect(pod.securityContext?.supplementalGroups).toContain(DIND_ROOTLESS.uid);
  });

  it('keeps the runner itself as restricted as in standard mode', () => {
    expect(runner.securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      capabilities: { drop: ['ALL'] },
      runAsNonRoot: true,
    });
  });
});

describe('the subordinate IDs of the rootless daemon', () => {
  function script(): string {
    const writer = podFor(profileOf('dind-rootless')).initContainers?.find((c) => c.name === 'subids');
    const command = writer?.command ?? [];
    expect(command.slice(0, 2)).toEqual(['sh', '-c']);
    return command[2] ?? '';
  }

  /** Runs the init container's script with /bin/sh against a given ID map, as its image's shell would. */
  function run(idMap: string): { status: number; subuid?: string; subgid?: string } {
    const dir = tempDir('subids');
    writeFileSync(join(dir, 'uid_map'), idMap);
    writeFileSync(join(dir, 'gid_map'), idMap);
    const local = script()
      .replaceAll('/proc/self/uid_map', join(dir, 'uid_map'))
      .replaceAll('/proc/self/gid_map', join(dir, 'gid_map'))
      .replaceAll('/subids/', `${dir}/`);
    try {
      execFileSync('sh', ['-c', local], { stdio: 'pipe' });
    } catch (error) {
      return { status: (error as { status: number }).status };
    }
    return {
      status: 0,
      subuid: readFileSync(join(dir, 'subuid'), 'utf8'),
      subgid: readFileSync(join(dir, 'subgid'), 'utf8'),
    };
  }

  /** RootlessKit maps the daemon's uid to 0 and the subordinate ranges after it, in order. */
  function mapped(subids: string, ownId: number): number[] {
    const ranges = subids
      .trim()
      .split('\n')
      .map((line) => line.split(':'))
      .map(([user, start, count]) => ({ user, start: Number(start), count: Number(count) }));
    for (const range of ranges) expect(range.user).toBe('rootless');
    return [
      ownId,
      ...ranges.flatMap((range) => Array.from({ length: range.count }, (_, i) => range.start + i)),
    ];
  }

  it("maps all 65536 IDs of a pod user namespace, each once, none outside the pod's range", () => {
    const result = run('         0  100663296      65536\n');
    expect(result.status).toBe(0);
    for (const subids of [result.subuid ?? '', result.subgid ?? '']) {
      const ids = mapped(subids, DIND_ROOTLESS.uid);
      expect(ids).toHaveLength(65536);
      expect(new Set(ids).size).toBe(65536);
      expect(Math.min(...ids)).toBe(0);
      expect(Math.max(...ids)).toBe(65535);
    }
  });

  it("refuses to run in the node's user namespace, where it would hand out the node's root", () => {
    expect(run('         0          0 4294967295\n').status).not.toBe(0);
  });
});
