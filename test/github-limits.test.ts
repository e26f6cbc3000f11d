import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GitHubLimitError } from '../shared/errors/errors.js';
import {
  type CredentialBudget,
  createCredentialBudget,
  type GitHubLimits,
  limitAnswer,
  type PauseStore,
} from '../shared/github/credential-budget.js';
import { createTokenCredentials } from '../shared/github/credentials.js';
import { createGitHubClient } from '../shared/github/github-client.js';
import { createKubeApi, type KubeApi } from '../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { createNamespacedCalls } from '../shared/records/namespaced-calls.js';
import { createPauseLeases } from '../shared/records/pause-leases.js';
import { deadlineIn } from '../shared/retry/with-retries.js';
import { startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';
import { queuedPayload } from '../stand-ins/payloads.js';

const AT = 1_800_000_000_000;
const LIMITS: GitHubLimits = {
  concurrency: 2,
  pointsPerMinute: 12,
  contentPerMinute: undefined,
  windowMs: 60_000,
};
const JOB = 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}';
const JIT = 'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig';

describe('limitAnswer: when GitHub asks to wait', () => {
  it.each([
    [
      '403 with retry-after (secondary, remaining above 0)',
      403,
      { 'retry-after': '30', 'x-ratelimit-remaining': '4000' },
      '',
      AT + 30_000,
    ],
    ['429 with retry-after', 429, { 'retry-after': '2' }, '', AT + 2000],
    [
      '429 with retry-after as an HTTP date',
      429,
      { 'retry-after': new Date(AT + 5000).toUTCString() },
      '',
      AT + 5000,
    ],
    [
      '403 with remaining 0, until the reset',
      403,
      { 'x-ratelimit-remaining': '0', 'x-ratelimit-reset': String(AT / 1000 + 90) },
      '',
      AT + 90_000,
    ],
    ['429 with neither: at least a minute', 429, {}, '', AT + 60_000],
    [
      '403 naming a secondary rate limit: at least a minute',
      403,
      {},
      'You have exceeded a secondary rate limit.',
      AT + 60_000,
    ],
    [
      '403 refusing the credential: no limit',
      403,
      { 'x-ratelimit-remaining': '4999' },
      'Resource not accessible by personal access token',
      undefined,
    ],
    ['500 with retry-after: no limit', 500, { 'retry-after': '1' }, '', undefined],
  ])('%s', (_, status, headers, message, until) => {
    expect(limitAnswer(status, headers, message, AT)).toBe(until);
  });
});

describe("an instance's budget for a credential", () => {
  const clock = () => {
    let now = AT;
    return { now: () => now, advance: (ms: number) => (now += ms) };
  };

  it('counts points per endpoint over a sliding window: GET 1, POST 5', async () => {
    const time = clock();
    const budget = createCredentialBudget(LIMITS, { now: time.now });
    for (let i = 0; i < 2; i += 1) (await budget.acquire('pat:a', JIT, deadlineIn(8000)))();
    // 10 of 12 points spent on JIT: another POST does not fit, a GET of another endpoint does.
    await expect(budget.acquire('pat:a', JIT, deadlineIn(8000))).rejects.toBeInstanceOf(GitHubLimitError);
    (await budget.acquire('pat:a', JOB, deadlineIn(8000)))();
    // Another credential has its own budget.
    (await budget.acquire('pat:b', JIT, deadlineIn(8000)))();
    // A minute after their answers (here, at once).
    time.advance(59_999);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeInstanceOf(GitHubLimitError);
    time.advance(1);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeUndefined();
    expect(budget.status('pat:a').endpoints).toEqual([
      { endpoint: JIT, points: 0, limit: 12 },
      { endpoint: JOB, points: 0, limit: 12 },
    ]);
  });

  it('gives a rarely called route (`most`) a block of that many calls, not a share of the concurrency', async () => {
    // Blocks of 2 of 10 slots: four routes hold 8, a rare one 1, and a fifth route still gets the last one.
    const limits = { ...LIMITS, concurrency: 10, pointsPerMinute: 900 };
    const budget = createCredentialBudget(limits, { now: clock().now });
    const route = (n: number) => `GET /repos/{owner}/{repo}/route-${n}`;
    for (let n = 0; n < 4; n += 1) (await budget.acquire('pat:a', route(n), deadlineIn(8000)))();
    (await budget.acquire('pat:a', 'GET /repos/{owner}/{repo}/releases/latest', deadlineIn(8000), 1))();
    (await budget.acquire('pat:a', route(4), deadlineIn(8000)))();
    // Without the hint, the rare route's block would have held two slots, and the fifth route none.
    const shared = createCredentialBudget(limits, { now: clock().now });
    for (let n = 0; n < 4; n += 1) (await shared.acquire('pat:a', route(n), deadlineIn(8000)))();
    (await shared.acquire('pat:a', 'GET /repos/{owner}/{repo}/releases/latest', deadlineIn(8000)))();
    await expect(shared.acquire('pat:a', route(4), deadlineIn(1600))).rejects.toBeInstanceOf(
      GitHubLimitError,
    );
  });

  it('counts a call until a window after its answer came back, however late GitHub received it', async () => {
    const time = clock();
    const budget = createCredentialBudget({ ...LIMITS, pointsPerMinute: 5 }, { now: time.now });
    const answered = await budget.acquire('pat:a', JIT, deadlineIn(8000));
    // A loaded machine or network delivers the call 5 s after it left: GitHub counts it from then.
    time.advance(5000);
    answered();
    time.advance(59_999);
    const spent = await budget.blocked('pat:a', [JIT]);
    expect(spent).toBeInstanceOf(GitHubLimitError);
    expect((spent as GitHubLimitError).until).toBe(AT + 65_000);
    time.advance(1);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeUndefined();
    // A call not answered yet may still be on its way: it counts however long it takes.
    const unanswered = await budget.acquire('pat:a', JIT, deadlineIn(8000));
    time.advance(120_000);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeInstanceOf(GitHubLimitError);
    unanswered();
    time.advance(60_000);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeUndefined();
    // A call given up without an answer (a timeout) may reach GitHub later still, as long as GitHub would process
    // it (10 s): counted that much longer.
    const abandoned = await budget.acquire('pat:a', JIT, deadlineIn(8000));
    time.advance(5000);
    abandoned(false);
    time.advance(69_999);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeInstanceOf(GitHubLimitError);
    time.advance(1);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeUndefined();
  });

  it('sends no call whose answer could not come before its deadline, and counts none', async () => {
    const budget = createCredentialBudget(LIMITS);
    await expect(budget.acquire('pat:a', JIT, deadlineIn(300))).rejects.toThrow(/too little time/);
    expect(budget.status('pat:a')).toMatchObject({ inFlight: 0, endpoints: [{ endpoint: JIT, points: 0 }] });
    (await budget.acquire('pat:a', JIT, deadlineIn(900)))();
  });

  it('counts content-creating calls across endpoints when asked to', async () => {
    const budget = createCredentialBudget(
      { ...LIMITS, pointsPerMinute: 900, contentPerMinute: 2 },
      { now: () => AT },
    );
    (await budget.acquire('pat:a', JIT, deadlineIn(8000)))();
    (await budget.acquire('pat:a', 'POST /other', deadlineIn(8000)))();
    await expect(budget.acquire('pat:a', 'POST /third', deadlineIn(8000))).rejects.toThrow(/budget/);
    (await budget.acquire('pat:a', JOB, deadlineIn(8000)))();
  });

  it('lets a call wait for a concurrency slot, and gives up shortly before its deadline', async () => {
    const budget = createCredentialBudget({ ...LIMITS, pointsPerMinute: 900 });
    const first = await budget.acquire('pat:a', JOB, deadlineIn(8000));
    await budget.acquire('pat:a', JOB, deadlineIn(8000));
    const third = budget.acquire('pat:a', JOB, deadlineIn(8000));
    first();
    const release = await third;
    expect(budget.status('pat:a').inFlight).toBe(2);
    release();
    await budget.acquire('pat:a', JOB, deadlineIn(8000));
    const started = Date.now();
    await expect(budget.acquire('pat:a', JOB, deadlineIn(1800))).rejects.toThrow(/in flight/);
    expect(Date.now() - started).toBeLessThan(1000);
  });

  it("reads the cluster's pause before calling: an instance never calls a credential another was told to rest", async () => {
    const written = new Map<string, number>();
    const shared: PauseStore = {
      read: async (credential) => written.get(credential),
      write: async (credential, until) => {
        written.set(credential, Math.max(written.get(credential) ?? 0, until));
      },
    };
    const time = clock();
    const one = createCredentialBudget(LIMITS, { pauses: shared, now: time.now });
    const two = createCredentialBudget(LIMITS, { pauses: shared, now: time.now });
    await one.pause('pat:a', AT + 30_000);
    const refused = await two.acquire('pat:a', JOB, deadlineIn(8000)).catch((e: unknown) => e);
    expect(refused).toBeInstanceOf(GitHubLimitError);
    expect((refused as GitHubLimitError).until).toBe(AT + 30_000);
    expect(two.status('pat:a').pausedUntil).toBe(AT + 30_000);
    // An earlier pause never shortens a later one.
    await two.pause('pat:a', AT + 10_000);
    expect(written.get('pat:a')).toBe(AT + 30_000);
    time.advance(30_000);
    (await two.acquire('pat:a', JOB, deadlineIn(8000)))();
  });
});

describe('the GitHub client with a budget, against the stand-in', () => {
  it('sends nothing for a paused credential until its retry-after has passed', async () => {
    const gh = await startGitHubStandIn({ token: 'github_pat_limits' });
    try {
      const payload = queuedPayload();
      gh.addJob(payload.repository.full_name, payload.workflow_job);
      let now = Date.now();
      const budget = createCredentialBudget({ ...LIMITS, pointsPerMinute: 900 }, { now: () => now });
      const client = createGitHubClient({
        baseUrl: gh.url,
        credentials: createTokenCredentials(new Map(), 'github_pat_limits'),
        budget,
      });
      const repo = { owner: payload.repository.owner.login, repo: payload.repository.name };
      gh.inject('job', {
        status: 403,
        retryAfterSeconds: 60,
        message: 'You have exceeded a secondary rate limit',
      });
      const refused = await client.getJob(repo, payload.workflow_job.id).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(GitHubLimitError);
      await expect(client.getJob(repo, payload.workflow_job.id)).rejects.toBeInstanceOf(GitHubLimitError);
      await expect(client.startBlocked(repo)).resolves.toBeInstanceOf(GitHubLimitError);
      expect(gh.calls.filter((call) => call.route === 'job')).toHaveLength(1);
      // Just past the retry-after, as GitHub's answer set it (however long the call took on a loaded machine).
      now = (refused as GitHubLimitError).until + 1;
      expect((await client.getJob(repo, payload.workflow_job.id)).status).toBe('queued');
      expect(gh.calls.filter((call) => call.route === 'job')).toHaveLength(2);
    } finally {
      await gh.close();
    }
  });
});

describe('a rate-limit answer with a short retry-after', () => {
  it('pauses for as long as GitHub asked, and charges the refused call no window of points', async () => {
    const gh = await startGitHubStandIn({ token: 'github_pat_limits' });
    try {
      let now = Date.now();
      // One registration a window: were the refused one charged like a served one, the next would wait a minute.
      const budget = createCredentialBudget({ ...LIMITS, pointsPerMinute: 5 }, { now: () => now });
      const client = createGitHubClient({
        baseUrl: gh.url,
        credentials: createTokenCredentials(new Map(), 'github_pat_limits'),
        budget,
      });
      const repo = { owner: 'octo-org', repo: 'app' };
      const runner = { name: 'runner-1', runnerGroupId: 1, labels: ['self-hosted'], workFolder: '_work' };
      gh.inject('jit', { status: 429, retryAfterSeconds: 1 });
      const refused = await client.generateJitConfig(repo, runner).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(GitHubLimitError);
      expect(String(refused)).toMatch(/asks to wait 1 s/);
      now = (refused as GitHubLimitError).until - 1;
      await expect(client.startBlocked(repo)).resolves.toBeInstanceOf(GitHubLimitError);
      now += 1;
      await expect(client.startBlocked(repo)).resolves.toBeUndefined();
      expect((await client.generateJitConfig(repo, runner)).runnerId).toBeGreaterThan(0);
    } finally {
      await gh.close();
    }
  });
});

describe('what the client tells the budget of each call', () => {
  it('says whether GitHub answered: a call given up without an answer may still count there', async () => {
    const gh = await startGitHubStandIn({ token: 'github_pat_limits' });
    try {
      const payload = queuedPayload();
      gh.addJob(payload.repository.full_name, payload.workflow_job);
      const real = createCredentialBudget(LIMITS);
      const released: (boolean | 'refused' | undefined)[] = [];
      const budget: CredentialBudget = {
        ...real,
        async acquire(credential, route, deadline) {
          const release = await real.acquire(credential, route, deadline);
          return (answered) => {
            released.push(answered);
            release(answered);
          };
        },
      };
      const client = createGitHubClient({
        baseUrl: gh.url,
        credentials: createTokenCredentials(new Map(), 'github_pat_limits'),
        budget,
        requestTimeoutMs: 200,
        sleep: async () => {},
      });
      const repo = { owner: payload.repository.owner.login, repo: payload.repository.name };
      expect((await client.getJob(repo, payload.workflow_job.id)).status).toBe('queued');
      // A 502 is an answer too (the retry after it gets the job).
      gh.failNext('job', 502);
      expect((await client.getJob(repo, payload.workflow_job.id)).status).toBe('queued');
      expect(released).toEqual([true, true, true]);
      // A call that timed out is not: GitHub may yet receive it.
      gh.inject('job', { delayMs: 1000 });
      await expect(client.getJob(repo, payload.workflow_job.id, deadlineIn(600))).rejects.toThrow();
      expect(released.slice(3)).toContain(false);
    } finally {
      await gh.close();
    }
  });
});

describe('pauses as Leases, against the API stand-in', () => {
  let kubernetes: KubernetesStandIn;
  let kubeApi: KubeApi;
  beforeAll(async () => {
    kubernetes = await startKubernetesStandIn();
    kubeApi = createKubeApi(
      kubeconfigConnection([kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'kar-')))]),
    );
  });
  afterAll(async () => {
    kubeApi.close();
    await kubernetes.close();
  });

  it('writes a pause once per credential, keeps the later one, and reads it back', async () => {
    const pauses = createPauseLeases(createNamespacedCalls(kubeApi, 'default'));
    expect(await pauses.read('pat:octo')).toBeUndefined();
    await pauses.write('pat:octo', AT + 30_000);
    await pauses.write('pat:octo', AT + 10_000);
    expect(await pauses.read('pat:octo')).toBe(AT + 30_000);
    await pauses.write('pat:octo', AT + 60_000);
    expect(await pauses.read('pat:octo')).toBe(AT + 60_000);
    expect(await pauses.read('pat:other')).toBeUndefined();
    expect(await pauses.list()).toEqual([{ credential: 'pat:octo', until: AT + 60_000 }]);
    expect([...kubernetes.leases.keys()]).toEqual([expect.stringMatching(/^kar-pause-[0-9a-f]{16}$/)]);
  });
});
