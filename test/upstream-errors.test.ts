import { afterEach, describe, expect, it } from 'vitest';
import {
  loggableError,
  PayloadError,
  PermanentUpstreamError,
  redactUpstreamText,
  UPSTREAM_TEXT_LIMIT,
  UpstreamError,
} from '../shared/errors/errors.js';
import { createTokenCredentials } from '../shared/github/credentials.js';
import { createGitHubClient } from '../shared/github/github-client.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, GITHUB_TOKEN, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

/** A GitHub client whose every request is answered by `answer`, recording the URLs it was asked for. */
function clientAnswering(status: number, body: unknown = { message: 'x' }) {
  const urls: string[] = [];
  const fetchStub = (async (url: string | URL) => {
    urls.push(String(url));
    return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  }) as typeof fetch;
  const client = createGitHubClient({
    baseUrl: 'https://api.github.com',
    fetch: fetchStub,
    credentials: createTokenCredentials(new Map(), 'github_pat_unit'),
    sleep: async () => {},
    defaultBudgetMs: 200,
  });
  return { client, urls };
}

const repo = { owner: 'octo-org', repo: 'app' };
const runner = { name: 'runner-1', runnerGroupId: 1, labels: ['self-hosted'], workFolder: '_work' };

describe('GitHub answers that asking again cannot change (#19 item 6)', () => {
  for (const status of [400, 404, 422]) {
    it(`${status} on JIT is a PermanentUpstreamError, asked once`, async () => {
      const { client, urls } = clientAnswering(status, { message: 'Validation Failed' });
      const error = await client.generateJitConfig(repo, runner).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PermanentUpstreamError);
      expect(error).toMatchObject({
        status,
        reason: `failed to generate JIT config: GitHub answered HTTP ${status}, which asking again cannot change`,
      });
      expect(urls).toHaveLength(1);
    });
  }

  for (const status of [401, 403, 409, 500, 503]) {
    it(`${status} is not permanent`, async () => {
      const { client } = clientAnswering(status);
      const error = await client.generateJitConfig(repo, runner).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UpstreamError);
      expect(error).not.toBeInstanceOf(PermanentUpstreamError);
    });
  }
});

describe('paths from names GitHub allows (#19 item 7)', () => {
  for (const [owner, name] of [
    ['..', 'app'],
    ['octo-org', '..'],
    ['octo-org', '.'],
    ['octo/org', 'app'],
    ['octo-org', 'a/b'],
    ['octo-org', 'a%2Fb'],
  ]) {
    it(`refuses ${owner}/${name} before any request`, async () => {
      const { client, urls } = clientAnswering(200, { status: 'queued' });
      const error = await client
        .getJob({ owner: owner as string, repo: name as string }, 1)
        .catch((e: unknown) => e);
      expect(error).toBeInstanceOf(PayloadError);
      expect(urls).toEqual([]);
    });
  }
});

describe('upstream text in answers and logs (#19 item 8)', () => {
  const jitConfig = Buffer.from(
    JSON.stringify({ '.runner': 'eyJhZ2VudElkIjoxMjM0NTY3ODkwLCJhZ2VudE5hbWUiOiJydW5uZXIi' }),
  ).toString('base64');
  const token = 'ghs_16C7e42F292c6912E7710c838347Ae178B4a';

  it('redacts tokens, JWTs, credentials and base64 runs, and cuts the text', () => {
    const text = redactUpstreamText(
      `bad request for ${token} with Bearer abc.def-ghi_jkl and eyJhbGciOiJSUzI1NiJ9.eyJpc3MiOjEyMzQ1fQ.c2lnbmF0dXJl and ${jitConfig} and github_pat_11ABCDEFG0123456789_secretpart`,
    );
    expect(text).toBe('bad request for *** with Bearer *** and *** and *** and ***');
    expect(redactUpstreamText('word '.repeat(2000))).toHaveLength(UPSTREAM_TEXT_LIMIT + 3);
    // A run cut at the end of what is looked at is dropped, not shown in part.
    expect(redactUpstreamText(`error ${'A1b2'.repeat(5000)}`)).toBe('error ');
    // Words, paths and URLs stay readable.
    const plain =
      'Not Found https://docs.github.com/rest/actions/self-hosted-runners#create-configuration-for-a-just-in-time-runner-for-a-repository';
    expect(redactUpstreamText(plain)).toBe(plain.slice(0, UPSTREAM_TEXT_LIMIT));
  });

  it('never logs an error cause, whose message is the raw upstream text', () => {
    const cause = new Error(`upstream said ${token}`);
    const logged = loggableError(new UpstreamError('github', 'failed: HTTP 500', 500, { cause }));
    expect(JSON.stringify(logged)).not.toContain(token);
    expect(logged).toMatchObject({
      type: 'UpstreamError',
      message: 'failed: HTTP 500',
      upstream: 'github',
      cause: 'Error',
    });
  });

  let h: AppHarness | undefined;
  afterEach(async () => {
    await h?.close();
    h = undefined;
  });

  async function deliverQueued(harness: AppHarness, jobId: number) {
    const payload = queuedPayload({ jobId });
    harness.github.addJob(payload.repository.full_name, payload.workflow_job);
    const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
    const response = await harness.app.request('/webhook', { method: 'POST', headers, body });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  it('answers GitHub 422 on JIT with 422 and our reason, and asks only once', async () => {
    h = await startAppHarness();
    h.github.inject('jit', { status: 422, message: `Validation Failed: labels ${jitConfig}` });
    const answer = await deliverQueued(h, 801);
    expect(answer).toEqual({
      status: 422,
      body: {
        error: 'failed to generate JIT config: GitHub answered HTTP 422, which asking again cannot change',
      },
    });
    expect(h.github.calls.filter((call) => call.path.endsWith('/generate-jitconfig'))).toHaveLength(1);
    expect(h.logText()).not.toContain(jitConfig);
    // No record is left for reconcile to retry on every pass, and the refusal is counted.
    expect(h.kubernetes.jobs.has('runner-801')).toBe(false);
    expect(await h.metrics.registry.metrics()).toMatch(
      /runner_jobs_refused_total\{[^}]*status="422"[^}]*\} 1/,
    );
  });

  it('answers 502 with a generic reason and an errorId; the log has the redacted detail, never the echo', async () => {
    h = await startAppHarness();
    const echo = `Forbidden: request had Authorization: token ${GITHUB_TOKEN} and config ${jitConfig}`;
    h.github.inject('jit', { status: 403, message: echo });
    const answer = await deliverQueued(h, 802);
    expect(answer.status).toBe(502);
    expect(answer.body).toEqual({
      error: "GitHub failed (HTTP 403); the function's log has the details under errorId",
      errorId: expect.stringMatching(/^[0-9a-f-]{36}$/),
    });
    const line = h.logs.find((entry) => entry.errorId === answer.body.errorId);
    expect(line?.err).toMatchObject({
      message:
        'failed to generate JIT config: HTTP 403 Forbidden: request had Authorization: token *** and config ***',
    });
    expect(h.logText()).not.toContain(GITHUB_TOKEN);
    expect(h.logText()).not.toContain(jitConfig);
    expect(h.logText()).not.toContain('secretpart');
  });
});
