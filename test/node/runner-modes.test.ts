/**
 * Every mode's runner pod, made by the real function process and started by the real kubelet: a signed queued
 * delivery makes a runner Job under the shipped RBAC and admission policy; containerd and runc start its pod on the
 * real node; the runner stand-in's run.sh registers with the runner broker (GitHub's side of a running runner, on
 * the node's bridge address), takes its job, runs its script (in the Docker modes against the daemon sidecar,
 * through the shared socket) and reports it; the broker's `completed` delivery reaches the function; the Job
 * completes, in the Docker modes while the daemon still runs (native sidecars). Then GitHub refuses the runner's
 * version: it exits 7, the Job fails by its pod failure policy, and reconcile counts it outdated and does not
 * replace it. Longer than 250 lines on purpose: one install of the policy (cluster-wide) serves every case.
 */
import type { V1ContainerStatus, V1Job, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Config, loadConfig } from '../../shared/config/load-config.js';
import { PINNED_RUNNER_VERSION, RUNNER_MODES, type RunnerMode } from '../../shared/config/runner-modes.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { type BrokerEvent, type RunnerBroker, startRunnerBroker } from '../../stand-ins/runner-broker.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import { kubectl, kubectlJson, kubectlStatus } from '../e2e/support/cluster.js';
import {
  installShippedPolicy,
  RUNNERS,
  removeShippedPolicy,
  shippedRbac,
} from '../e2e/support/shipped-policy.js';

const WEBHOOK_SECRET = 'node-runner-modes-secret';
const GITHUB_TOKEN = 'github_pat_node_runner_modes';
const RECONCILE_TOKEN = 'node-runner-modes-reconcile';
/** The node's bridge address (scripts/node/node.sh): pods reach the broker there. */
const NODE_IP = '198.18.0.1';
/** kwok's fake node: cordoned for the suite, so every runner pod lands on the real node. */
const KWOK_NODE = 'kwok-node-0';
const OWNER = 'octo-node';
const REPO = 'modes';
/** A runner pod's life on this machine: image start, the daemon's start in the Docker modes, the job. */
const RUN_TIMEOUT_MS = 150_000;

/** The job each mode's runner runs (`bash -e` in `_work`): what proves the mode from inside the pod. */
const SCRIPTS: Record<RunnerMode, string> = {
  standard:
    'echo "uid=$(id -u) groups=$(id -G)"; echo "uid_map: $(cat /proc/self/uid_map)"; test -d "$HOME/externals"',
  userns: 'echo "uid_map: $(cat /proc/self/uid_map)"',
  dind: dockerScript(),
  'dind-rootless': `echo "uid_map: $(cat /proc/self/uid_map)"; ${dockerScript()}`,
};

/** Talks to the sidecar's daemon through DOCKER_HOST (the shared socket), and builds an image there. */
function dockerScript(): string {
  return [
    'docker version --format "client={{.Client.APIVersion}} server={{.Server.APIVersion}}"',
    'docker info --format "driver={{.Driver}} security={{json .SecurityOptions}}"',
    'mkdir -p proof && cd proof && echo proof > proof.txt',
    "printf 'FROM scratch\\nCOPY proof.txt /proof.txt\\n' > Dockerfile",
    'docker build --quiet --tag kar-proof:1 .',
    'docker image inspect --format "built={{.RepoTags}}" kar-proof:1',
    // Long enough for the test to see the runner and its sidecar running side by side.
    'sleep 2',
  ].join('\n');
}

let images: ReturnType<typeof inject<'nodeImages'>>;
let env: Record<string, string>;
let config: Config;
let functionKubeconfig: string;
let github: GitHubStandIn;
let broker: RunnerBroker;
let server: ServerProcess;
let nextJobId = 9_300_000_000;

/** One profile per mode, chosen by a label of the mode's name, each with the images built here. */
function profilesYaml(): string {
  return [
    'profiles:',
    ...RUNNER_MODES.flatMap((mode) => [
      `  - name: ${mode}`,
      `    match: ${mode}`,
      `    mode: ${mode}`,
      `    image: ${images.runner}`,
      `    dindImage: ${mode === 'dind-rootless' ? images.dindRootless : images.dind}`,
    ]),
  ].join('\n');
}

beforeAll(async () => {
  images = inject('nodeImages');
  kubectl(['cordon', KWOK_NODE]);
  env = {
    WEBHOOK_SECRET,
    GITHUB_TOKEN,
    NAMESPACE: RUNNERS,
    RUNNER_PROFILES: profilesYaml(),
    RECONCILE_TOKEN,
  };
  config = loadConfig(env);
  functionKubeconfig = shippedRbac();
  await installShippedPolicy(config, functionKubeconfig);
  github = await startGitHubStandIn({ token: GITHUB_TOKEN });
  broker = await startRunnerBroker(github, NODE_IP);
  server = await startServerProcess({ ...env, GITHUB_API_URL: github.url, KUBECONFIG: functionKubeconfig });
  github.setHook({ url: `${server.url}/webhook`, secret: WEBHOOK_SECRET });
}, 180_000);

afterAll(async () => {
  await server?.stop();
  await broker?.close();
  await github?.close();
  kubectlStatus(['uncordon', KWOK_NODE]);
  kubectlStatus(['delete', 'jobs', '-n', RUNNERS, '-l', 'app=github-runner', '--wait=false']);
  if (functionKubeconfig) await removeShippedPolicy(config, functionKubeconfig);
}, 180_000);

/** Queues a job with the broker (the script its runner runs) and delivers its signed `queued` to the function. */
async function queueAndDeliver(label: string, script: string) {
  const payload = queuedPayload({
    jobId: nextJobId++,
    owner: OWNER,
    repo: REPO,
    labels: ['self-hosted', label],
  });
  broker.queue(payload, script);
  const delivery = await signedDelivery(payload, WEBHOOK_SECRET);
  const deliveredAt = Date.now();
  const response = await fetch(`${server.url}/webhook`, { method: 'POST', ...delivery });
  const body = (await response.json()) as Record<string, unknown>;
  expect(body, JSON.stringify(body)).toMatchObject({ outcome: 'created' });
  expect(response.status).toBe(200);
  return { jobId: payload.workflow_job.id, name: String(body.job), deliveredAt };
}

const podsOf = (job: string) =>
  kubectlJson<{ items: V1Pod[] }>(['get', 'pods', '-n', RUNNERS, '-l', `job-name=${job}`]).items;
const getJob = (name: string) => kubectlJson<V1Job>(['get', 'job', name, '-n', RUNNERS]);
const condition = (job: V1Job, type: string) =>
  job.status?.conditions?.find((one) => one.type === type && one.status === 'True');
const statusOf = (statuses: V1ContainerStatus[] | undefined, name: string) =>
  statuses?.find((status) => status.name === name);

interface Watched {
  /** The pod as the kubelet last reported it. */
  readonly pod: V1Pod;
  readonly job: V1Job;
  /** Delivery to the pod's phase Running, and to the Job's Complete or Failed condition (ms). */
  readonly toRunning: number | undefined;
  readonly toFinished: number;
  /** Pod statuses seen while the runner container ran. */
  readonly whileRunning: V1Pod[];
}

/** Watches the runner Job's pod until the Job is Complete or Failed, keeping what the kubelet reported on the way. */
async function watchRunner(name: string, deliveredAt: number): Promise<Watched> {
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  const whileRunning: V1Pod[] = [];
  let toRunning: number | undefined;
  for (;;) {
    const pod = podsOf(name)[0];
    // A short job may pass Running between two looks: then the kubelet's start time (whole seconds) says when.
    if (pod?.status?.phase === 'Running' && toRunning === undefined) toRunning = Date.now() - deliveredAt;
    if (pod && statusOf(pod.status?.containerStatuses, 'runner')?.state?.running) whileRunning.push(pod);
    const job = getJob(name);
    if (pod && (condition(job, 'Complete') || condition(job, 'Failed'))) {
      const toFinished = Date.now() - deliveredAt;
      // The pod's final status (its sidecar's end) may trail the Job's condition by a moment.
      const final = (await settledPod(name)) ?? pod;
      const started = statusOf(final.status?.containerStatuses, 'runner')?.state?.terminated?.startedAt;
      toRunning ??=
        started === undefined ? undefined : Math.max(0, Date.parse(String(started)) - deliveredAt);
      return { pod: final, job, toRunning, toFinished, whileRunning };
    }
    const crashing = pod?.status?.initContainerStatuses?.find(
      (status) => status.restartCount >= 2 && status.state?.running === undefined,
    );
    if (pod && crashing) {
      const previous = kubectlStatus([
        'logs',
        pod.metadata?.name ?? '',
        '-n',
        RUNNERS,
        '-c',
        crashing.name,
        '--previous',
      ]);
      throw new Error(
        `${name}: sidecar ${crashing.name} restarted ${crashing.restartCount} times; its last log:\n${previous.output.slice(-1500)}`,
      );
    }
    if (Date.now() > deadline) {
      throw new Error(
        `${name} did not finish in ${RUN_TIMEOUT_MS} ms; pod status: ${JSON.stringify(pod?.status)}; ` +
          `events: ${kubectl(['get', 'events', '-n', RUNNERS, '--field-selector', `involvedObject.name=${pod?.metadata?.name ?? name}`])}`,
      );
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

/** The pod once the kubelet has reported it Succeeded or Failed (up to 30 s), else undefined. */
async function settledPod(name: string): Promise<V1Pod | undefined> {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    const pod = podsOf(name)[0];
    if (pod?.status?.phase === 'Succeeded' || pod?.status?.phase === 'Failed') return pod;
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  return undefined;
}

const eventsOf = (runner: string) =>
  broker.events.filter((event) => event.runner === runner).map(({ at: _at, ...event }) => event);
const runnerLog = (pod: V1Pod) => kubectl(['logs', pod.metadata?.name ?? '', '-n', RUNNERS, '-c', 'runner']);
const deliveriesOf = (jobId: number) =>
  github.deliveries
    .filter((delivery) => (delivery.payload as { workflow_job?: { id?: number } }).workflow_job?.id === jobId)
    .map((delivery) => ({ action: delivery.action, statusCode: delivery.statusCode }));
/** The outside uid of the first line of a `/proc/self/uid_map` the job printed. */
const outsideUid = (log: string) => Number(/uid_map:\s+\d+\s+(\d+)\s+\d+/.exec(log)?.[1]);

/**
 * Modes whose pod this node cannot run yet, and why: their test is expected to fail (`it.fails`), so that the
 * suite stays green while the defect is open and turns red the day it is fixed.
 */
const KNOWN_DEFECTS: Partial<Record<RunnerMode, string>> = {
  // RootlessKit's network (slirp4netns, the default of dockerd-rootless.sh, and vpnkit alike) needs /dev/net/tun,
  // which an unprivileged pod has not; a hostPath of it cannot be idmapped for hostUsers: false ("failed to set
  // MOUNT_ATTR_IDMAP on /dev/net/tun: invalid argument"). The daemon exits: "setting up tap tap0: ... ip tuntap
  // add name tap0 mode tap ... open: No such file or directory".
  'dind-rootless': 'the rootless daemon finds no /dev/net/tun in its pod',
};

describe.each(RUNNER_MODES)('mode %s on the real node', (mode) => {
  (KNOWN_DEFECTS[mode] === undefined ? it : it.fails)(
    'runs its runner pod from a queued delivery: the runner takes its job, runs it, and the Job completes',
    async () => {
      const { jobId, name, deliveredAt } = await queueAndDeliver(mode, SCRIPTS[mode]);
      const watched = await watchRunner(name, deliveredAt);
      const { pod, job } = watched;
      const log = runnerLog(pod);
      console.info(
        `${mode}: delivery to pod Running ${watched.toRunning} ms, to Job Complete ${watched.toFinished} ms`,
      );

      expect(condition(job, 'Complete'), `${JSON.stringify(job.status)}\n${log}`).toBeDefined();
      expect(pod.spec?.nodeName).toBe(inject('node'));
      expect(pod.status?.hostIP).toBe(NODE_IP);
      expect(pod.status?.phase).toBe('Succeeded');
      expect(statusOf(pod.status?.containerStatuses, 'runner')?.state?.terminated).toMatchObject({
        exitCode: 0,
        reason: 'Completed',
      });
      // Every init container the pod has (the Docker modes' externals copy and subids) ran to exit code 0 first.
      for (const init of pod.spec?.initContainers ?? []) {
        if (init.restartPolicy === 'Always') continue;
        const ran = statusOf(pod.status?.initContainerStatuses, init.name)?.state?.terminated;
        expect(ran, init.name).toMatchObject({ exitCode: 0, reason: 'Completed' });
      }
      // The runner registered with the broker as its Job's runner, took this job and reported it succeeded.
      expect(eventsOf(name)).toEqual([
        { kind: 'online', runner: name },
        { kind: 'took', runner: name, jobId },
        { kind: 'completed', runner: name, jobId, result: 'succeeded', exitCode: 0 },
      ]);
      await github.settled();
      expect(deliveriesOf(jobId)).toEqual([
        { action: 'in_progress', statusCode: 200 },
        { action: 'completed', statusCode: 200 },
      ]);

      if (mode === 'standard') {
        expect(log).toMatch(/uid=1001 groups=.*\b123\b/);
        expect(outsideUid(log)).toBe(0);
      }
      if (mode === 'userns' || mode === 'dind-rootless') {
        // hostUsers: false: uid 0 inside is an unprivileged uid outside.
        expect(outsideUid(log)).toBeGreaterThan(0);
      }
      if (mode === 'dind' || mode === 'dind-rootless') {
        expect(log).toMatch(/client=1\.\d+ server=1\.\d+/);
        expect(log).toContain('built=[kar-proof:1]');
        if (mode === 'dind-rootless') expect(log).toMatch(/security=.*rootless/);
        // The daemon (a native sidecar) started before the runner and ended only after it, by the kubelet's own
        // times (whole seconds); in every status seen while the runner ran (a short job may slip between two
        // looks), it was running and started.
        const dind = statusOf(pod.status?.initContainerStatuses, 'dind')?.state?.terminated;
        const runner = statusOf(pod.status?.containerStatuses, 'runner')?.state?.terminated;
        expect(Date.parse(String(dind?.startedAt))).toBeLessThanOrEqual(
          Date.parse(String(runner?.startedAt)),
        );
        expect(Date.parse(String(dind?.finishedAt))).toBeGreaterThanOrEqual(
          Date.parse(String(runner?.finishedAt)),
        );
        for (const seen of watched.whileRunning) {
          const daemon = statusOf(seen.status?.initContainerStatuses, 'dind');
          expect(daemon?.state?.running, JSON.stringify(daemon)).toBeDefined();
          expect(daemon?.started).toBe(true);
        }
      }
    },
  );
});

describe('a runner whose version GitHub refuses, on the real node', () => {
  it('exits 7, fails its Job by the pod failure policy, and reconcile counts it outdated without replacing it', async () => {
    broker.refuseVersion(PINNED_RUNNER_VERSION);
    const { jobId, name, deliveredAt } = await queueAndDeliver('standard', 'echo should not run; exit 1');
    const { pod, job } = await watchRunner(name, deliveredAt);

    const failed = condition(job, 'Failed');
    expect(failed?.reason, JSON.stringify(job.status)).toBe('PodFailurePolicy');
    expect(failed?.message).toMatch(/^Container runner for pod \S+ failed with exit code 7 /);
    expect(statusOf(pod.status?.containerStatuses, 'runner')?.state?.terminated).toMatchObject({
      exitCode: 7,
    });
    expect(runnerLog(pod)).toContain(`Runner version v${PINNED_RUNNER_VERSION} is deprecated`);
    expect(eventsOf(name)).toEqual([{ kind: 'refused', runner: name }]);

    const response = await fetch(`${server.url}/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${RECONCILE_TOKEN}` },
    });
    const pass = (await response.json()) as Record<string, unknown>;
    expect(response.status).toBe(200);
    expect(pass, JSON.stringify(pass)).toMatchObject({ replaced: 0, failures: 0 });
    const metrics = await (await fetch(`${server.url}/metrics`)).text();
    expect(metrics).toMatch(/^runner_outdated_total\{profile="standard"\} 1$/m);
    const jobs = kubectlJson<{ items: V1Job[] }>([
      'get',
      'jobs',
      '-n',
      RUNNERS,
      '-l',
      `kube-actions-runner.dev/job-id=${jobId}`,
    ]).items;
    expect(jobs.map((one) => one.metadata?.name)).toEqual([name]);
    const took = (event: BrokerEvent) => event.kind === 'took' && event.jobId === jobId;
    expect(broker.events.some(took)).toBe(false);
  });
});
