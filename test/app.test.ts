import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { completedPayload, examplesOf, queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, GITHUB_TOKEN, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

let h: AppHarness;

async function deliver(payload: unknown, options: { event?: string; path?: string; secret?: string } = {}) {
  const { headers, body } = await signedDelivery(payload, options.secret ?? WEBHOOK_SECRET, options.event);
  return h.app.request(options.path ?? '/webhook', { method: 'POST', headers, body });
}

function queued(jobId = 12877621891, labels?: string[]) {
  const payload = queuedPayload({ jobId, ...(labels ? { labels } : {}) });
  h.github.addJob(payload.repository.full_name, payload.workflow_job);
  return payload;
}

beforeEach(async () => {
  h = await startAppHarness();
});
afterEach(async () => {
  expect(h.github.violations).toEqual([]);
  await h.close();
});

describe('health, readiness and metrics', () => {
  it('answers liveness and readiness', async () => {
    expect((await h.app.request('/health')).status).toBe(200);
    const ready = await h.app.request('/ready');
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', mode: 'standard', namespace: 'default' });
  });

  it('serves the six metrics in Prometheus text format', async () => {
    const response = await h.app.request('/metrics');
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    for (const name of [
      'webhook_requests_total',
      'webhook_latency_seconds',
      'runner_jobs_created_total',
      'runner_jobs_active',
      'github_api_requests_total',
      'github_api_rate_limit_remaining',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
  });

  it('answers 404 with a message for unknown routes', async () => {
    const response = await h.app.request('/nope');
    expect(response.status).toBe(404);
    expect(await response.json()).toEqual({ error: 'no route for GET /nope' });
  });
});

describe('a queued job for a self-hosted runner', () => {
  it('gets a suspended-then-resumed Job, a JIT runner and a Secret owned by the Job', async () => {
    const { headers, body } = await signedDelivery(queued(), WEBHOOK_SECRET);
    const response = await h.app.request('/webhook', { method: 'POST', headers, body });
    expect(response.status).toBe(200);
    const runner = h.github.runners[0];
    expect(await response.json()).toEqual({
      outcome: 'created',
      job: 'runner-12877621891',
      runnerId: runner?.id,
    });
    expect(runner).toMatchObject({
      name: 'runner-12877621891',
      labels: ['self-hosted', 'k8s'],
      runnerGroupId: 1,
    });

    const job = h.kubernetes.jobs.get('runner-12877621891');
    expect(job?.spec?.suspend).toBe(false);
    expect(job?.metadata.labels?.app).toBe('github-runner');
    expect(job?.metadata.annotations).toMatchObject({
      'kube-actions-runner.dev/delivery': headers['x-github-delivery'],
      'kube-actions-runner.dev/repository': 'lineville/elastic-machines-testing',
    });
    const secret = h.kubernetes.secrets.get('runner-12877621891');
    expect(secret?.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: 'Job', name: 'runner-12877621891', uid: job?.metadata.uid }),
    ]);
    expect(Buffer.from(secret?.data?.jitconfig ?? '', 'base64').toString()).toBe(runner?.encodedJitConfig);
    expect(JSON.stringify(job)).not.toContain(runner?.encodedJitConfig);

    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toContain(
      'runner_jobs_created_total{owner="lineville",repo="elastic-machines-testing"} 1',
    );
    expect(metrics).toContain(
      'webhook_requests_total{status="200",owner="lineville",repo="elastic-machines-testing"} 1',
    );
    expect(metrics).toContain('runner_jobs_active 1');
    expect(metrics).toContain(
      'github_api_requests_total{endpoint="POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig",status="201"} 1',
    );
  });

  it('is served at / too, for OpenFaaS and ingresses that route the function at its root', async () => {
    const response = await deliver(queued(), { path: '/' });
    expect(response.status).toBe(200);
    expect(h.kubernetes.jobs.size).toBe(1);
  });

  it('accepts the form-encoded content type GitHub also offers', async () => {
    const payload = queued();
    const body = new URLSearchParams({ payload: JSON.stringify(payload) }).toString();
    const { sign } = await import('@octokit/webhooks-methods');
    const response = await h.app.request('/webhook', {
      method: 'POST',
      headers: {
        'content-type': 'application/x-www-form-urlencoded',
        'x-github-event': 'workflow_job',
        'x-github-delivery': 'form-1',
        'x-hub-signature-256': await sign(WEBHOOK_SECRET, body),
      },
      body,
    });
    expect(response.status).toBe(200);
    expect(h.kubernetes.jobs.size).toBe(1);
  });

  it('logs one line for the delivery with its id, event, action, repository, job id and outcome', async () => {
    const response = await deliver(queued());
    expect(response.status).toBe(200);
    const line = h.logs.find((entry) => entry.outcome === 'created');
    expect(line).toMatchObject({
      level: 'info',
      event: 'workflow_job',
      action: 'queued',
      repo: 'lineville/elastic-machines-testing',
      jobId: 12877621891,
      job: 'runner-12877621891',
      status: 200,
    });
    expect(line?.delivery).toMatch(/^72d3162e-/);
  });
});

describe('exactly one runner per job', () => {
  it('makes one Job and one runner when the same delivery comes twice', async () => {
    const payload = queued();
    expect((await deliver(payload)).status).toBe(200);
    const second = await deliver(payload);
    expect(second.status).toBe(200);
    expect(await second.json()).toEqual({
      outcome: 'exists',
      job: 'runner-12877621891',
      reason: 'runner job already exists',
    });
    expect(h.kubernetes.jobs.size).toBe(1);
    expect(h.github.runners).toHaveLength(1);
  });

  it('makes one Job and one runner when 10 deliveries race', async () => {
    const payload = queued();
    const answers = await Promise.all(Array.from({ length: 10 }, () => deliver(payload)));
    // 200 created for one; 200 exists, or 202 pending while the first is still starting it, for the others.
    const outcomes = await Promise.all(
      answers.map(
        async (answer) => `${answer.status} ${((await answer.json()) as { outcome: string }).outcome}`,
      ),
    );
    expect(outcomes.filter((outcome) => outcome === '200 created')).toHaveLength(1);
    expect(outcomes.every((outcome) => ['200 created', '200 exists', '202 pending'].includes(outcome))).toBe(
      true,
    );
    expect(h.kubernetes.jobs.size).toBe(1);
    expect(h.kubernetes.secrets.size).toBe(1);
    expect(h.github.runners).toHaveLength(1);
  });
});

describe('deliveries that get no runner', () => {
  it.each([
    ['the labels miss self-hosted', ['ubuntu-latest']],
    ['the labels match no matcher', ['self-hosted', 'windows']],
  ])('answers 2xx and logs "job labels do not match" when %s', async (_name, labels) => {
    await h.close();
    h = await startAppHarness({ LABEL_MATCHERS: 'k8s,linux' });
    const response = await deliver(queued(1, labels));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: 'ignored', reason: 'job labels do not match' });
    expect(h.logs.some((entry) => entry.msg === 'job labels do not match')).toBe(true);
    expect(h.github.calls).toHaveLength(0);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('answers 2xx and creates nothing for a job that is no longer queued', async () => {
    const payload = queued();
    h.github.setJobStatus(payload.workflow_job.id, 'in_progress');
    const response = await deliver(payload);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      outcome: 'ignored',
      reason: 'job is no longer queued (in_progress)',
    });
    expect(h.github.runners).toHaveLength(0);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('ignores the waiting action with its reason', async () => {
    const example = examplesOf('workflow_job').find((e) => e.action === 'waiting');
    const response = await deliver(example);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: 'ignored', reason: 'action waiting is not handled' });
    expect(h.github.calls).toHaveLength(0);
  });

  it('answers an in_progress delivery of a job on a runner not ours without calling anyone', async () => {
    const example = examplesOf('workflow_job').find((e) => e.action === 'in_progress');
    const response = await deliver(example);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      outcome: 'ignored',
      reason: 'job runs on a runner not ours',
    });
    expect(h.github.calls).toHaveLength(0);
  });

  it('answers a ping', async () => {
    const response = await deliver(examplesOf('ping')[0], { event: 'ping' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: 'pong' });
  });

  it('ignores other events with the reason', async () => {
    const response = await deliver(examplesOf('push')[0], { event: 'push' });
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ outcome: 'ignored', reason: 'event push is not handled' });
  });
});

describe('bad input', () => {
  it('refuses a delivery without a signature with 401 and does nothing', async () => {
    const { headers, body } = await signedDelivery(queued(), WEBHOOK_SECRET);
    delete headers['x-hub-signature-256'];
    const response = await h.app.request('/webhook', { method: 'POST', headers, body });
    expect(response.status).toBe(401);
    expect(((await response.json()) as { error: string }).error).toMatch(
      /^missing X-Hub-Signature-256 header/,
    );
    expect(h.github.calls).toHaveLength(0);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('refuses a wrong signature with 401 and a hint', async () => {
    const response = await deliver(queued(), { secret: 'not the secret' });
    expect(response.status).toBe(401);
    expect(await response.json()).toEqual({
      error: "signature mismatch: check that WEBHOOK_SECRET matches the webhook's secret on GitHub",
    });
    expect(h.github.calls).toHaveLength(0);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('refuses a body signed for other content (tampered) with 401', async () => {
    const { headers, body } = await signedDelivery(queued(), WEBHOOK_SECRET);
    const tampered = body.replace('"self-hosted"', '"self-hosted","gpu"');
    const response = await h.app.request('/webhook', { method: 'POST', headers, body: tampered });
    expect(response.status).toBe(401);
  });

  it('refuses a body declared over WEBHOOK_MAX_BODY_BYTES (256 KiB) with 413, before reading it', async () => {
    const body = `{"pad":"${'x'.repeat(256 * 1024)}"}`;
    const response = await h.app.request('/webhook', {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-length': String(body.length),
        'x-hub-signature-256': `sha256=${'0'.repeat(64)}`,
      },
      body,
    });
    expect(response.status).toBe(413);
    expect(((await response.json()) as { error: string }).error).toMatch(/WEBHOOK_MAX_BODY_BYTES/);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('counts a body without Content-Length (chunked) as it streams, and refuses it at the cap', async () => {
    const chunk = new Uint8Array(64 * 1024).fill(120);
    let sent = 0;
    const body = new ReadableStream<Uint8Array>({
      pull(controller) {
        if (sent++ < 400) controller.enqueue(chunk);
        else controller.close();
      },
    });
    const response = await h.app.request('/webhook', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-hub-signature-256': `sha256=${'0'.repeat(64)}` },
      body,
      duplex: 'half',
    } as RequestInit);
    expect(response.status).toBe(413);
    // It stopped reading soon after 256 KiB (4 chunks) instead of taking the whole 25 MB stream.
    expect(sent).toBeLessThan(8);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('answers 400 for a Content-Length that is not a number', async () => {
    const { headers, body } = await signedDelivery(queued(), WEBHOOK_SECRET);
    const response = await h.app.request('/webhook', {
      method: 'POST',
      headers: { ...headers, 'content-length': '12abc' },
      body,
    });
    expect(response.status).toBe(400);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('answers 400 for signed malformed JSON', async () => {
    const { sign } = await import('@octokit/webhooks-methods');
    const body = '{"action":"queued",';
    const response = await h.app.request('/webhook', {
      method: 'POST',
      headers: { 'x-github-event': 'workflow_job', 'x-hub-signature-256': await sign(WEBHOOK_SECRET, body) },
      body,
    });
    expect(response.status).toBe(400);
    expect(((await response.json()) as { error: string }).error).toMatch(/^body is not valid JSON/);
  });

  it('answers 400 naming the field for a signed payload that lacks one', async () => {
    const payload = queuedPayload() as Record<string, unknown>;
    delete payload.repository;
    const response = await deliver(payload);
    expect(response.status).toBe(400);
    expect(await response.json()).toEqual({ error: 'payload field repository must be an object' });
    expect(h.kubernetes.jobs.size).toBe(0);
  });
});

describe('when GitHub or Kubernetes fails', () => {
  const FORBIDDEN_JIT = 'failed to generate JIT config: HTTP 403 Injected failure';

  it('answers 502 and keeps the suspended record, which a redelivery then finishes', async () => {
    const payload = queued();
    h.github.failNext('jit', 403);
    const response = await deliver(payload);
    expect(response.status).toBe(502);
    // The answer says who failed and where to look; GitHub's own text (shown to repository admins) only in the log.
    const answer = (await response.json()) as { error: string; errorId: string };
    expect(answer.error).toBe("GitHub failed (HTTP 403); the function's log has the details under errorId");
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        level: 'error',
        errorId: answer.errorId,
        err: expect.objectContaining({ message: FORBIDDEN_JIT, upstream: 'github', status: 403 }),
      }),
    );
    const record = h.kubernetes.jobs.get('runner-12877621891');
    expect(record?.spec?.suspend).toBe(true);
    // The claim was released, so the redelivery need not wait for it to expire.
    expect(
      (record?.metadata.annotations as Record<string, string> | undefined)?.['kube-actions-runner.dev/claim'],
    ).toBe('');
    expect(h.kubernetes.secrets.size).toBe(0);

    const again = await deliver(payload);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ outcome: 'created', job: 'runner-12877621891' });
    expect(h.kubernetes.jobs.get('runner-12877621891')?.spec?.suspend).toBe(false);
    expect(h.github.runners.filter((runner) => !runner.deleted)).toHaveLength(1);
  });

  it('retries a passing GitHub 503 within the delivery, then creates the runner', async () => {
    const payload = queued();
    h.github.failNext('job', 503);
    const response = await deliver(payload);
    expect(response.status).toBe(200);
    expect(h.kubernetes.jobs.get('runner-12877621891')?.spec?.suspend).toBe(false);
  });

  it('keeps the record of a job whose registration GitHub refused for a rate limit: 202 waiting, not retried', async () => {
    const payload = queued();
    h.github.inject('jit', { status: 429, retryAfterSeconds: 30 });
    const response = await deliver(payload);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ outcome: 'waiting', job: 'runner-12877621891' });
    expect(h.kubernetes.jobs.get('runner-12877621891')?.spec?.suspend).toBe(true);
    expect(h.github.calls.filter((call) => call.route === 'jit')).toHaveLength(1);
    // Paused: a repeated delivery calls GitHub no more before the Retry-After, and still waits.
    const again = await deliver(payload);
    expect(again.status).toBe(202);
    expect(h.github.calls.filter((call) => call.route === 'jit')).toHaveLength(1);
  });

  it('records a job whose status read GitHub refused for a rate limit, to be read again later', async () => {
    const payload = queued();
    h.github.inject('job', {
      status: 403,
      retryAfterSeconds: 30,
      message: 'You have exceeded a secondary rate limit',
    });
    const response = await deliver(payload);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ outcome: 'waiting', job: 'runner-12877621891' });
    const record = h.kubernetes.jobs.get('runner-12877621891');
    expect(record?.spec?.suspend).toBe(true);
    expect(h.github.runners).toHaveLength(0);
  });

  it('answers 202 pending while another delivery holds the claim', async () => {
    const payload = queued();
    h.github.failNext('jit', 403);
    expect((await deliver(payload)).status).toBe(502);
    const record = h.kubernetes.jobs.get('runner-12877621891');
    const annotations = record?.metadata.annotations as Record<string, string> | undefined;
    if (annotations) annotations['kube-actions-runner.dev/claim'] = `someone-else ${Date.now() + 30_000}`;
    const response = await deliver(payload);
    expect(response.status).toBe(202);
    expect(await response.json()).toEqual({
      outcome: 'pending',
      job: 'runner-12877621891',
      reason: 'another delivery is starting this runner',
    });
  });

  it('answers 502 and registers no runner when the Job cannot be created', async () => {
    h.kubernetes.failNext('POST', 'jobs', 403);
    const response = await deliver(queued());
    expect(response.status).toBe(502);
    expect(((await response.json()) as { error: string }).error).toBe(
      "the Kubernetes API failed (HTTP 403); the function's log has the details under errorId",
    );
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        err: expect.objectContaining({
          message: 'failed to create the runner Job: HTTP 403 injected failure',
        }),
      }),
    );
    expect(h.github.runners).toHaveLength(0);
  });

  it('answers 502 when the Secret cannot be created; the redelivery replaces the stale registration', async () => {
    const payload = queued();
    h.kubernetes.failNext('POST', 'secrets', 403);
    const response = await deliver(payload);
    expect(response.status).toBe(502);
    expect(h.kubernetes.jobs.get('runner-12877621891')?.spec?.suspend).toBe(true);
    const metrics = await (await h.app.request('/metrics')).text();
    expect(metrics).toContain(
      'webhook_requests_total{status="502",owner="lineville",repo="elastic-machines-testing"} 1',
    );
    // The first registration is still there: the redelivery meets a JIT 409, deletes it, and registers anew.
    expect((await deliver(payload)).status).toBe(200);
    const live = h.github.runners.filter((runner) => !runner.deleted);
    expect(live).toHaveLength(1);
    expect(h.github.runners).toHaveLength(2);
    const secret = h.kubernetes.secrets.get('runner-12877621891');
    expect(Buffer.from(secret?.data?.jitconfig ?? '', 'base64').toString()).toBe(live[0]?.encodedJitConfig);
  });
});

describe('an interrupted attempt that left a Secret behind', () => {
  it('resets the record (new registration gone, Job recorded anew) and a redelivery finishes it', async () => {
    const payload = queued();
    // A Secret of this name already exists: an earlier attempt stored a config this one cannot trust.
    h.kubernetes.failNext('POST', 'secrets', 409);
    const response = await deliver(payload);
    expect(response.status).toBe(502);
    expect(h.logs).toContainEqual(
      expect.objectContaining({
        err: expect.objectContaining({
          message: 'an interrupted attempt left a JIT Secret; the runner job was reset',
        }),
      }),
    );
    const record = h.kubernetes.jobs.get('runner-12877621891');
    expect(record?.spec?.suspend).toBe(true);
    const annotations = (record?.metadata.annotations ?? {}) as Record<string, string>;
    // Recorded anew, unclaimed: free for the redelivery.
    expect(annotations['kube-actions-runner.dev/claim'] ?? '').toBe('');
    expect(h.github.runners.filter((runner) => !runner.deleted)).toHaveLength(0);
    // The reset completed, so its mark (written first, in case it were cut short) is gone again.
    // The credential's shared GitHub budget (kar-budget-<hash>) is a Lease too; these count the others.
    expect([...h.kubernetes.leases.keys()].filter((name) => !name.startsWith('kar-budget-')).length).toBe(0);
    expect((await deliver(payload)).status).toBe(200);
    expect(h.kubernetes.jobs.get('runner-12877621891')?.spec?.suspend).toBe(false);
  });
});

describe('a completed job', () => {
  it('that never got a runner removes its unstarted Job, Secret and registration', async () => {
    const payload = queued();
    h.github.failNext('jit', 403);
    await deliver(payload);
    // The runner was registered but the Job never started; then the job was cancelled.
    expect(h.kubernetes.jobs.size).toBe(1);
    h.github.setJobStatus(payload.workflow_job.id, 'completed');
    const response = await deliver(completedPayload(payload));
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({
      outcome: 'cancelled',
      job: 'runner-12877621891',
      reason: 'job completed before its runner started',
    });
    expect(h.kubernetes.jobs.size).toBe(0);
    expect(h.kubernetes.secrets.size).toBe(0);
    expect(h.github.runners.filter((runner) => !runner.deleted)).toHaveLength(0);
  });

  it('that ran on a runner is left alone', async () => {
    const example = examplesOf('workflow_job').find((e) => e.action === 'completed');
    const response = await deliver(example);
    expect(await response.json()).toEqual({ outcome: 'ignored', reason: 'job completed on a runner' });
  });

  it('before its queued delivery (out of order) leaves nothing, and the late queued delivery makes nothing', async () => {
    const payload = queued();
    h.github.setJobStatus(payload.workflow_job.id, 'completed');
    expect(await (await deliver(completedPayload(payload))).json()).toEqual({
      outcome: 'ignored',
      reason: 'no runner job for this job',
    });
    expect(await (await deliver(payload)).json()).toEqual({
      outcome: 'ignored',
      reason: 'job is no longer queued (completed)',
    });
    expect(h.kubernetes.jobs.size).toBe(0);
  });
});

describe('secrets in logs', () => {
  it('never logs the token, the webhook secret or a JIT config, whatever happens', async () => {
    const payload = queued();
    await deliver(payload);
    await deliver(payload);
    await deliver(payload, { secret: 'wrong' });
    h.github.failNext('jit', 403);
    await deliver(queued(99));
    const text = h.logText();
    expect(text.length).toBeGreaterThan(0);
    expect(text).not.toContain(GITHUB_TOKEN);
    expect(text).not.toContain(WEBHOOK_SECRET);
    for (const runner of h.github.runners) expect(text).not.toContain(runner.encodedJitConfig);
  });
});
