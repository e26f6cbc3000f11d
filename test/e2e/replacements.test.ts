/**
 * Replacement runners (`runner-<job id>-<n>`) under the shipped rules on the real API server: knative/rbac.yaml,
 * knative/admission-policy.yaml and its generated parameters, with the function acting as its ServiceAccount. The
 * builder's replacement Job and Secret are admitted and other names refused; the real function process makes a
 * replacement on each path that makes one (a runner taken by another job, a runner that never came up, a runner
 * whose pod failed), so a rule that disagrees with the lifecycle fails here; and `doctor` judges a replacement too.
 * Longer than 250 lines on purpose: the three share one install of the policy, which binds cluster-wide.
 */
import { readFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { type Config, loadConfig } from '../../shared/config/load-config.js';
import { runDoctor } from '../../shared/doctor/run-doctor.js';
import { RECORD_ANNOTATIONS, replacementName } from '../../shared/records/record-schema.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { inProgressPayload, queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import { kubectl, kubectlJson, kubectlStatus, waitFor } from './support/cluster.js';
import {
  ACCOUNT,
  dryRunCreate,
  FUNCTION_NAMESPACE,
  installShippedPolicy,
  jitSecret as jitSecretOf,
  POLICY,
  RUNNERS,
  recordJob as recordJobOf,
  removeShippedPolicy,
  shippedRbac,
} from './support/shipped-policy.js';

const WEBHOOK_SECRET = 'e2e-replacements-secret';
const GITHUB_TOKEN = 'github_pat_e2e_replacements';
const RECONCILE_TOKEN = 'e2e-replacements-reconcile';
const AS = `system:serviceaccount:${FUNCTION_NAMESPACE}:${ACCOUNT}`;
const SMALL = ['self-hosted', 'k8s'];
const GPU = ['self-hosted', 'k8s', 'gpu'];
const NODE = 'kwok-node-0';
/** As the function is configured in service.yaml's runners' namespace, one standard profile. */
const env = { WEBHOOK_SECRET, GITHUB_TOKEN, NAMESPACE: RUNNERS, RUNNER_MODE: 'standard' };
const config: Config = loadConfig(env);

let functionKubeconfig: string;
let github: GitHubStandIn;
let server: ServerProcess;
let nextJobId = 8_100_000_000;

beforeAll(async () => {
  functionKubeconfig = shippedRbac();
  await installShippedPolicy(config, functionKubeconfig);
  github = await startGitHubStandIn({ token: GITHUB_TOKEN });
  server = await startServerProcess({
    ...env,
    GITHUB_API_URL: github.url,
    KUBECONFIG: functionKubeconfig,
    RECONCILE_TOKEN,
  });
}, 120_000);

afterAll(async () => {
  await server?.stop();
  await github?.close();
  kubectlStatus(['uncordon', NODE]);
  kubectlStatus(['delete', 'jobs', '-n', RUNNERS, '-l', 'app=github-runner', '--wait=false']);
  if (functionKubeconfig) await removeShippedPolicy(config, functionKubeconfig);
}, 120_000);

const recordJob = (name: string) => recordJobOf(config, name);
const jitSecret = (name: string) => jitSecretOf(RUNNERS, name);

describe('the shipped admission policy, as the function', () => {
  it.each([2, 3, 17])('admits the replacement Job and Secret of generation %i', (generation) => {
    const name = replacementName(42, generation);
    const job = dryRunCreate(functionKubeconfig, recordJob(name));
    expect(job.output).toContain(`job.batch/${name}`);
    const secret = dryRunCreate(functionKubeconfig, jitSecret(name));
    expect(secret.output).toContain(`secret/${name}`);
  });

  it.each(['runner-1-x', 'runner-1-2-3', 'runner-1-1', 'runner-1-02', 'runner--2', 'evil'])(
    'refuses a Job and a Secret named %s',
    (name) => {
      for (const object of [recordJob(name), jitSecret(name)]) {
        const answer = dryRunCreate(functionKubeconfig, object);
        expect(answer.admitted).toBe(false);
        expect(answer.output).toMatch(/ValidatingAdmissionPolicy .*named runner-<job id>/);
      }
    },
  );

  it("refuses a replacement's pod reading the Secret of the runner it replaces", () => {
    const job = recordJob(replacementName(42, 2));
    const env = job.spec?.template.spec?.containers[0]?.env ?? [];
    for (const variable of env) {
      if (variable.valueFrom?.secretKeyRef) variable.valueFrom.secretKeyRef.name = 'runner-42';
    }
    expect(env.some((variable) => variable.valueFrom?.secretKeyRef?.name === 'runner-42')).toBe(true);
    const answer = dryRunCreate(functionKubeconfig, job);
    expect(answer.admitted).toBe(false);
    expect(answer.output).toMatch(/reads only its own Secret/);
  });
});

/** A queued job known to GitHub, delivered to the function; its answer. */
async function queued(labels = SMALL) {
  const payload = queuedPayload({ jobId: nextJobId++, labels });
  github.addJob(payload.repository.full_name, payload.workflow_job);
  return { payload, answer: await deliver(payload) };
}
async function deliver(payload: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const delivery = await signedDelivery(payload, WEBHOOK_SECRET);
  const response = await fetch(`${server.url}/webhook`, { method: 'POST', ...delivery });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}
async function reconcile(): Promise<Record<string, unknown>> {
  const response = await fetch(`${server.url}/reconcile`, {
    method: 'POST',
    headers: { authorization: `Bearer ${RECONCILE_TOKEN}` },
  });
  expect(response.status).toBe(200);
  return (await response.json()) as Record<string, unknown>;
}
type Job = { spec: { suspend?: boolean }; status?: { conditions?: { type: string; status: string }[] } };
const getJob = (name: string): Job | undefined => {
  const found = kubectlStatus(['get', 'job', name, '-n', RUNNERS, '-o', 'json']);
  return found.status === 0 ? (JSON.parse(found.output) as Job) : undefined;
};
/** The replacement was made by the function, started, and given its Secret: all of it admitted. */
function expectStartedReplacement(name: string) {
  expect(getJob(name)?.spec.suspend).toBe(false);
  expect(kubectlStatus(['get', 'secret', name, '-n', RUNNERS]).status).toBe(0);
  expect(github.runners.some((runner) => runner.name === name && !runner.deleted)).toBe(true);
}

describe('the lifecycle paths that make replacements, under the shipped policy', () => {
  it('gives a job whose runner another job took a replacement (in_progress delivery)', async () => {
    const small = await queued(SMALL);
    const gpu = await queued(GPU);
    expect([small.answer.body.outcome, gpu.answer.body.outcome]).toEqual(['created', 'created']);
    const gpuRunner = `runner-${gpu.payload.workflow_job.id}`;
    const taken = github.giveJob(small.payload.workflow_job.id, gpuRunner);
    const answer = await deliver(inProgressPayload(small.payload, taken));
    expect(answer.body).toMatchObject({ outcome: 'replaced', job: `${gpuRunner}-2` });
    expect(answer.status).toBe(200);
    expectStartedReplacement(`${gpuRunner}-2`);
  });

  describe('on a node that runs no pod (cordoned)', () => {
    beforeAll(() => {
      kubectl(['cordon', NODE]);
    });
    afterAll(() => {
      kubectl(['uncordon', NODE]);
    });

    it('replaces a runner that never came up (reconcile)', async () => {
      const { payload, answer } = await queued();
      const name = `runner-${payload.workflow_job.id}`;
      expect(answer.body).toMatchObject({ outcome: 'created', job: name });
      // Its start moved back past RUNNER_START_TIMEOUT_SECONDS, as if it had waited that long for its pod.
      const past = Date.now() - (config.runnerStartTimeoutSeconds + 60) * 1000;
      kubectl([
        'annotate',
        'job',
        name,
        '-n',
        RUNNERS,
        '--overwrite',
        `${RECORD_ANNOTATIONS.startedAt}=${past}`,
      ]);
      expect(await reconcile()).toMatchObject({ replaced: 1, timedOut: 1, failures: 0 });
      expectStartedReplacement(`${name}-2`);
    });

    it('replaces a runner whose pod failed (reconcile)', async () => {
      const { payload, answer } = await queued();
      const name = `runner-${payload.workflow_job.id}`;
      expect(answer.body).toMatchObject({ outcome: 'created', job: name });
      // Its pod lost (deleted while pending): with backoffLimit 0 the Job fails.
      await waitFor(`a pod of ${name}`, () => {
        const pods = kubectlJson<{ items: unknown[] }>([
          'get',
          'pods',
          '-n',
          RUNNERS,
          '-l',
          `job-name=${name}`,
        ]);
        return pods.items.length > 0 ? true : undefined;
      });
      kubectl(['delete', 'pods', '-n', RUNNERS, '-l', `job-name=${name}`, '--wait=false']);
      await waitFor(`${name} to fail`, () =>
        getJob(name)?.status?.conditions?.some((c) => c.type === 'Failed' && c.status === 'True')
          ? true
          : undefined,
      );
      expect(await reconcile()).toMatchObject({ replaced: 1, died: 1, failures: 0 });
      expectStartedReplacement(`${name}-2`);
    });
  });
});

describe('doctor, as the function', () => {
  const check = 'profile default (standard) admitted';
  const doctor = async () =>
    (
      await runDoctor({
        env: { ...env, GITHUB_API_URL: github.url, KUBECONFIG: inject('kubeconfig') },
        as: AS,
        timeoutMs: 20_000,
      })
    ).find((result) => result.check === check);

  it('passes the shipped policy, having judged a replacement too', async () => {
    const row = await doctor();
    expect(row?.status).toBe('pass');
    expect(row?.seen).toContain("a replacement's Job (runner-1234567890-2)");
  });

  it('fails a policy that admits only runner-<job id>, naming the replacement and the manifest', async () => {
    const shipped = readFileSync(POLICY, 'utf8');
    const older = shipped.replaceAll('(-([2-9]|[1-9][0-9]{1,8}))?', '');
    expect(older).not.toBe(shipped);
    kubectl(['apply', '-f', '-'], older);
    try {
      const replacement = recordJob(replacementName(42, 2));
      await waitFor('the older policy to be in force', () =>
        dryRunCreate(functionKubeconfig, replacement).admitted ? undefined : true,
      );
      const row = await doctor();
      expect(row?.status).toBe('fail');
      expect(row?.seen).toContain('the admission policy refuses the replacement Job runner-1234567890-2');
      expect(row?.fix).toContain('kubectl apply -f knative/admission-policy.yaml');
    } finally {
      kubectl(['apply', '-f', POLICY]);
      await waitFor('the shipped policy to be back', () =>
        dryRunCreate(functionKubeconfig, recordJob(replacementName(42, 2))).admitted ? true : undefined,
      );
    }
  });
});
