import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { GitHubLimitError, UpstreamError } from '../shared/errors/errors.js';
import { createTokenCredentials } from '../shared/github/credentials.js';
import { createGitHubClient, type GitHubClient } from '../shared/github/github-client.js';
import { deadlineIn } from '../shared/retry/with-retries.js';
import { type GitHubStandIn, startGitHubStandIn } from '../stand-ins/github-stand-in.js';
import { queuedPayload } from '../stand-ins/payloads.js';

const TOKEN = 'github_pat_11AAAAAAA0secret';
const repo = { owner: 'lineville', repo: 'elastic-machines-testing' };
const runnerRequest = {
  name: 'runner-12877621891',
  runnerGroupId: 1,
  labels: ['self-hosted', 'k8s'],
  workFolder: '_work',
};

describe('the GitHub client against the stand-in', () => {
  let gh: GitHubStandIn;
  let client: GitHubClient;
  let observed: { endpoint: string; status: number; remaining: unknown }[];

  beforeAll(async () => {
    gh = await startGitHubStandIn({ token: TOKEN });
  });
  afterAll(async () => {
    expect(gh.violations).toEqual([]);
    await gh.close();
  });
  /** The client, observed; `sleep` replaces its waits between tries. */
  const clientWith = (sleep?: (ms: number) => Promise<void>) =>
    createGitHubClient({
      baseUrl: gh.url,
      credentials: createTokenCredentials(new Map(), TOKEN),
      observe: (endpoint, status, headers) =>
        observed.push({ endpoint, status, remaining: headers['x-ratelimit-remaining'] }),
      ...(sleep ? { sleep } : {}),
    });
  beforeEach(() => {
    observed = [];
    client = clientWith();
    const payload = queuedPayload();
    gh.addJob(payload.repository.full_name, payload.workflow_job);
  });

  it('reads a job status and reports the route template and rate limit', async () => {
    expect((await client.getJob(repo, 12877621891)).status).toBe('queued');
    expect(observed).toHaveLength(1);
    expect(observed[0]?.endpoint).toBe('GET /repos/{owner}/{repo}/actions/jobs/{job_id}');
    expect(observed[0]?.status).toBe(200);
    expect(Number(observed[0]?.remaining)).toBeLessThan(5000);
    expect(gh.calls.at(-1)?.authorization).toBe(`token ${TOKEN}`);
  });

  it('registers a JIT runner with the name, group, labels and work folder', async () => {
    const runner = await client.generateJitConfig(repo, runnerRequest);
    const registered = gh.runners.at(-1);
    expect(registered).toMatchObject({
      repository: 'lineville/elastic-machines-testing',
      name: 'runner-12877621891',
      labels: ['self-hosted', 'k8s'],
      runnerGroupId: 1,
    });
    expect(runner).toEqual({ runnerId: registered?.id, encodedJitConfig: registered?.encodedJitConfig });
    expect(observed[0]).toMatchObject({
      endpoint: 'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig',
      status: 201,
    });
  });

  it('turns GitHub errors into UpstreamError with GitHub message and status, never the token', async () => {
    const error = await client.generateJitConfig(repo, runnerRequest).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect(error).toMatchObject({ upstream: 'github', status: 409 });
    expect((error as Error).message).toBe(
      'failed to generate JIT config: HTTP 409 Already exists - A runner with the name runner-12877621891 already exists.',
    );
    expect((error as Error).message).not.toContain(TOKEN);
    expect(observed[0]?.status).toBe(409);
  });

  it('reports a missing job as a 404', async () => {
    const error = await client.getJob(repo, 1).catch((e: unknown) => e);
    expect(error).toMatchObject({
      upstream: 'github',
      status: 404,
      message: 'failed to read the job from GitHub: HTTP 404 Not Found',
    });
  });

  it('reports a wrong token as a 401', async () => {
    const wrong = createGitHubClient({
      baseUrl: gh.url,
      credentials: createTokenCredentials(new Map(), 'nope'),
    });
    const error = await wrong.getJob(repo, 12877621891).catch((e: unknown) => e);
    expect(error).toMatchObject({
      status: 401,
      message: 'failed to read the job from GitHub: HTTP 401 Bad credentials',
    });
  });

  it('retries a passing server error and succeeds', async () => {
    gh.failNext('jit', 503, 2);
    const runner = await client.generateJitConfig(repo, { ...runnerRequest, name: 'retried' });
    expect(runner.runnerId).toBe(gh.runners.at(-1)?.id);
    expect(observed.map((o) => o.status)).toEqual([503, 503, 201]);
  });

  it('gives up on a lasting server error at its deadline with the last status', async () => {
    gh.failNext('job', 502, 1000);
    // Time passes only in the client's waits (the clock is moved by them, not by the machine's load), so what is
    // checked is the decision: retry while a wait fits before the deadline, then give up with the last status.
    vi.useFakeTimers({ toFake: ['Date'] });
    try {
      const deadline = deadlineIn(600);
      const timed = clientWith(async (ms) => {
        vi.setSystemTime(Date.now() + ms);
      });
      const error = await timed.getJob(repo, 12877621891, deadline).catch((e: unknown) => e);
      expect(error).toMatchObject({ upstream: 'github', status: 502 });
      expect(observed.length).toBeGreaterThanOrEqual(2);
      expect(observed.every((o) => o.status === 502)).toBe(true);
      // The last 50 ms are left for an attempt: no wait reaches into them.
      expect(Date.now()).toBeLessThanOrEqual(deadline.at - 50);
    } finally {
      vi.useRealTimers();
      gh.failNext('job', 502, 0);
    }
  });

  it('never retries a 429 before its Retry-After: the call fails at once with when GitHub allows it again', async () => {
    gh.inject('job', { status: 429, retryAfterSeconds: 1 });
    const started = Date.now();
    const error = await client.getJob(repo, 12877621891).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubLimitError);
    expect(error).toMatchObject({ status: 429 });
    expect((error as GitHubLimitError).until).toBeGreaterThanOrEqual(started + 1000);
    expect(Date.now() - started).toBeLessThan(900);
    expect(observed.map((o) => o.status)).toEqual([429]);
  });

  it('takes a 403 with Retry-After (a secondary rate limit, remaining above 0) as a limit, not a refusal', async () => {
    gh.inject('job', {
      status: 403,
      retryAfterSeconds: 30,
      message: 'You have exceeded a secondary rate limit',
    });
    const waits: number[] = [];
    const recording = clientWith(async (ms) => {
      waits.push(ms);
    });
    const error = await recording.getJob(repo, 12877621891, deadlineIn(8000)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(GitHubLimitError);
    expect((error as GitHubLimitError).reason).not.toContain('secondary');
    expect(waits).toEqual([]);
    expect(observed.map((o) => o.status)).toEqual([403]);
  });

  it('retries a dropped connection', async () => {
    gh.inject('job', { reset: true });
    expect((await client.getJob(repo, 12877621891)).status).toBe('queued');
  });

  it('finds a runner by name and deletes it; a second delete is no error', async () => {
    const created = await client.generateJitConfig(repo, { ...runnerRequest, name: 'stale' });
    const found = await client.findRunner(repo, 'stale');
    expect(found).toEqual({ id: created.runnerId, name: 'stale', status: 'offline', busy: false });
    await client.deleteRunner(repo, created.runnerId);
    expect(await client.findRunner(repo, 'stale')).toBeUndefined();
    await expect(client.deleteRunner(repo, created.runnerId)).resolves.toBeUndefined();
  });

  it('reports an unreachable GitHub without a status', async () => {
    const down = createGitHubClient({
      baseUrl: 'http://127.0.0.1:9',
      credentials: createTokenCredentials(new Map(), TOKEN),
    });
    const error = await down.getJob(repo, 1, deadlineIn(300)).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(UpstreamError);
    expect((error as UpstreamError).message).toMatch(/^failed to read the job from GitHub: /);
  });
});
