/**
 * A record made from a payload before GitHub confirmed its job (issue 33, part 3). The record's name is the job id's
 * (`runner-<id>`), one name for the whole namespace, and GitHub's job ids are unique across repositories: of two
 * repositories claiming one id, only the one GitHub confirms is genuine. Each test failed before the fix it names.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { replaceRunner } from '../functions/webhook/replace-runner.js';
import { createLogger } from '../shared/log/create-logger.js';
import { profileForRecord } from '../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../shared/records/build-record-job.js';
import { deadlineIn } from '../shared/retry/with-retries.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, serveApp, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

const TOKEN = 'reconcile-token-0123';
let h: AppHarness;
let clock = Date.now();

let closeServer: (() => void) | undefined;

afterEach(async () => {
  closeServer?.();
  closeServer = undefined;
  expect(h.github.violations).toEqual([]);
  await h.close();
});

/** Two tenants, each with its own webhook secret and its own token (so its own GitHub budget). */
const TENANTS = {
  WEBHOOK_SECRET: '',
  WEBHOOK_SECRETS: 'octo-org=octo-secret\nhubot=hubot-secret',
  GITHUB_TOKEN: '',
  GITHUB_TOKENS: 'octo-org=github_pat_octo\nhubot=github_pat_hubot',
  // Per endpoint a minute: six job reads, one registration.
  GITHUB_POINTS_PER_MINUTE: '6',
  RECONCILE_TOKEN: TOKEN,
};
const SECRETS = { 'octo-org': 'octo-secret', hubot: 'hubot-secret' } as const;

async function harness(env: Record<string, string> = TENANTS) {
  clock = Date.now();
  h = await startAppHarness(env, {
    now: () => clock,
    github: { pats: { github_pat_octo: 'octo-org', github_pat_hubot: 'hubot' } },
  });
}

type Payload = ReturnType<typeof queuedPayload>;

/** Signs and sends a payload as its owner's webhook does. */
async function deliver(
  payload: Payload,
  secret: string = SECRETS[payload.repository.owner.login as 'hubot'],
) {
  const { headers, body } = await signedDelivery(payload, secret);
  const response = await h.app.request('/webhook', { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

/** A job GitHub queued in the payload's repository (known to the stand-in), and the payload GitHub sends for it. */
function queuedAtGitHub(overrides: Parameters<typeof queuedPayload>[0]): Payload {
  const payload = queuedPayload(overrides);
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  return payload;
}

async function reconcile() {
  const response = await h.app.request('/reconcile', {
    method: 'POST',
    headers: { authorization: `Bearer ${TOKEN}` },
  });
  return (await response.json()) as Record<string, unknown>;
}

/** Tenant hubot spends its own budget of job reads with deliveries of its own jobs. */
async function spendHubotsReads() {
  for (const jobId of [101, 102, 103]) await deliver(queuedAtGitHub({ jobId, owner: 'hubot', repo: 'b' }));
  // Its fourth read of a job would be refused by this instance's budget.
  const refused = await deliver(queuedAtGitHub({ jobId: 104, owner: 'hubot', repo: 'b' }));
  expect(refused).toMatchObject({ status: 202, body: { outcome: 'waiting' } });
}

const live = () => h.github.runners.filter((runner) => !runner.deleted);
const repositoryOf = (name: string) =>
  (h.kubernetes.jobs.get(name)?.metadata?.annotations as Record<string, string> | undefined)?.[
    'kube-actions-runner.dev/repository'
  ];

describe("another repository's payload-made record of a job id", () => {
  it("does not strand the job GitHub confirms in this repository (A's delivery replaces B's record)", async () => {
    await harness();
    await spendHubotsReads();
    // octo-org's job 7, as GitHub queued it; hubot names it in a delivery of its own, signed with its own secret.
    const genuine = queuedAtGitHub({ jobId: 7, owner: 'octo-org', repo: 'a' });
    const forged = queuedPayload({ jobId: 7, owner: 'hubot', repo: 'b' });
    expect(await deliver(forged)).toMatchObject({ status: 202, body: { outcome: 'waiting' } });
    expect(repositoryOf('runner-7')).toBe('hubot/b');

    // GitHub confirms the job in octo-org/a: that claim outranks a record made from hubot's payload.
    expect(await deliver(genuine)).toMatchObject({
      status: 200,
      body: { outcome: 'created', job: 'runner-7' },
    });
    expect(repositoryOf('runner-7')).toBe('octo-org/a');
    // Later passes, with hubot's budget free again, leave octo-org's runner alone.
    clock += 61_000;
    await reconcile();
    await reconcile();
    expect(live().filter((runner) => runner.name === 'runner-7')).toMatchObject([
      { repository: 'octo-org/a' },
    ]);
    expect(h.kubernetes.jobs.get('runner-7')?.spec?.suspend).toBe(false);
    expect(
      h.github.runners.some((runner) => runner.repository === 'hubot/b' && runner.name === 'runner-7'),
    ).toBe(false);
  });

  it('leaves a held record to its holder and fails, never answering 2xx on it nor deleting it under the claim', async () => {
    await harness();
    await spendHubotsReads();
    const genuine = queuedAtGitHub({ jobId: 6, owner: 'octo-org', repo: 'a' });
    expect(await deliver(queuedPayload({ jobId: 6, owner: 'hubot', repo: 'b' }))).toMatchObject({
      status: 202,
    });
    // A pass is starting hubot's record right now (it will find hubot/b answering 404).
    const held = await h.records.getRecord('runner-6');
    expect(held?.unconfirmed).toBe(true);
    expect(
      await h.records.claimRecord(held as NonNullable<typeof held>, { id: 'pass', until: clock + 30_000 }),
    ).toBe(true);
    expect((await deliver(genuine)).status).toBe(502);
    expect(repositoryOf('runner-6')).toBe('hubot/b');
    // Once the claim lapsed, the redelivery replaces it.
    clock += 31_000;
    expect(await deliver(genuine)).toMatchObject({ status: 200, body: { outcome: 'created' } });
    expect(repositoryOf('runner-6')).toBe('octo-org/a');
  });

  it('is never the strength of a 2xx when GitHub could confirm neither: the genuine delivery fails, and its redelivery serves it', async () => {
    await harness({ ...TENANTS, RECONCILE_HOOKS: 'octo-org/a:31' });
    // octo-org/a's webhook, as GitHub holds it: its deliveries, and redeliveries, reach the function.
    const served = await serveApp(h);
    closeServer = served.close;
    h.github.setHook({ url: `${served.url}/webhook`, secret: SECRETS['octo-org'], hookId: 31 });
    await spendHubotsReads();
    const genuine = queuedAtGitHub({ jobId: 8, owner: 'octo-org', repo: 'a' });
    expect(await deliver(queuedPayload({ jobId: 8, owner: 'hubot', repo: 'b' }))).toMatchObject({
      status: 202,
    });
    // octo-org's own reads are spent too, by its own jobs.
    for (const jobId of [201, 202, 203])
      await deliver(queuedAtGitHub({ jobId, owner: 'octo-org', repo: 'c' }));

    // Which repository's job this is cannot be told now: a 2xx here would rest on hubot's record, which the next
    // reconcile deletes (hubot/b answers 404), and GitHub never redelivers a delivery answered 2xx.
    expect(await h.github.deliver('workflow_job', genuine)).toBe(502);
    // The passes that follow, a minute apart: hubot's record goes, GitHub is asked to deliver octo-org's again,
    // and the redelivery, its job confirmed in octo-org/a, is started as the budget allows.
    for (let pass = 0; pass < 5; pass += 1) {
      clock += 61_000;
      await reconcile();
      await h.github.settled();
    }
    expect(
      h.github.deliveries.filter((attempt) => attempt.redelivery).map((attempt) => attempt.statusCode),
    ).toEqual([expect.any(Number)]);
    expect(h.github.deliveries.at(-1)?.statusCode).toBeLessThan(300);
    expect(repositoryOf('runner-8')).toBe('octo-org/a');
    expect(live().filter((runner) => runner.name === 'runner-8')).toMatchObject([
      { repository: 'octo-org/a' },
    ]);
  });
});

describe("GitHub's labels, not the payload's, for every start", () => {
  const env = { RECONCILE_TOKEN: TOKEN, LABEL_MATCHERS: 'linux', GITHUB_POINTS_PER_MINUTE: '6' };

  /** A job GitHub holds with `[self-hosted, linux]`, and a payload for it that adds `prod-deploy-only`. */
  function jobWithForgedLabels(jobId: number) {
    const genuine = queuedPayload({ jobId, labels: ['self-hosted', 'linux'] });
    h.github.addJob(genuine.repository.full_name, genuine.workflow_job);
    const forged = queuedPayload({ jobId, labels: ['self-hosted', 'linux', 'prod-deploy-only'] });
    return { genuine, forged };
  }

  /** Spends this instance's job reads for the shared credential with other jobs. */
  async function spendReads() {
    for (const jobId of [301, 302, 303]) {
      const payload = queuedPayload({ jobId, labels: ['self-hosted', 'linux'] });
      h.github.addJob(payload.repository.full_name, payload.workflow_job);
      await deliver(payload, WEBHOOK_SECRET);
    }
  }

  it('reconcile never registers a runner with labels GitHub does not hold for the job', async () => {
    await harness(env);
    await spendReads();
    const { forged } = jobWithForgedLabels(9);
    // Both job reads refused: the record keeps the payload's labels for now.
    expect(await deliver(forged, WEBHOOK_SECRET)).toMatchObject({
      status: 202,
      body: { outcome: 'waiting' },
    });
    // A registration a minute (GitHub's points for it): enough passes for every waiting record to be tried.
    for (let pass = 0; pass < 5; pass += 1) {
      clock += 61_000;
      await reconcile();
    }
    expect(h.github.runners.filter((runner) => runner.labels.includes('prod-deploy-only'))).toEqual([]);
    expect(h.github.runners.map((runner) => runner.name).sort()).toEqual([
      'runner-301',
      'runner-302',
      'runner-303',
    ]);
    // Removed: GitHub's answer says the payload's labels were not the job's.
    expect(h.kubernetes.jobs.has('runner-9')).toBe(false);
  });

  it("the genuine delivery meeting a record made from a forged payload's labels starts with GitHub's", async () => {
    await harness(env);
    await spendReads();
    const { genuine, forged } = jobWithForgedLabels(10);
    expect(await deliver(forged, WEBHOOK_SECRET)).toMatchObject({ status: 202 });
    clock += 61_000;
    expect(await deliver(genuine, WEBHOOK_SECRET)).toMatchObject({
      status: 200,
      body: { outcome: 'created', job: 'runner-10' },
    });
    expect(live().find((runner) => runner.name === 'runner-10')?.labels).toEqual(['self-hosted', 'linux']);
  });
});

describe('a replacement', () => {
  it('is never made from labels GitHub does not hold for the job', async () => {
    h = await startAppHarness();
    // GitHub holds [self-hosted, linux] for job 11; the record (started by a version before labels were checked at
    // every start) says prod-deploy-only too.
    const atGitHub = queuedPayload({ jobId: 11, labels: ['self-hosted', 'linux'] });
    h.github.addJob(atGitHub.repository.full_name, atGitHub.workflow_job);
    const fields = {
      owner: atGitHub.repository.owner.login,
      repo: atGitHub.repository.name,
      jobId: 11,
      runId: Number(atGitHub.workflow_job.run_id),
      runAttempt: 1,
      deliveryId: 'd-11',
      jobLabels: ['self-hosted', 'linux', 'prod-deploy-only'],
    };
    const made = await h.records.createRecord(
      buildRecordJob(h.config, profileForRecord(h.config.profiles, fields.jobLabels), fields),
    );
    if (!made.created) throw new Error('the record was not made');
    const answer = await replaceRunner(h.deps, made.record, [], createLogger('silent'), deadlineIn(5000));
    expect(answer).toMatchObject({ outcome: 'not-needed' });
    expect([...h.kubernetes.jobs.keys()]).toEqual(['runner-11']);
    expect(h.github.runners).toHaveLength(0);
  });
});
