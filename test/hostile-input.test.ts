import { createHmac } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { afterEach, describe, expect, it } from 'vitest';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { type AppHarness, startAppHarness, WEBHOOK_SECRET } from './support/app-harness.js';

let h: AppHarness | undefined;
afterEach(async () => {
  expect(h?.github.violations ?? []).toEqual([]);
  await h?.close();
  h = undefined;
});

/** GitHub signs the bytes it sends: sha256 HMAC of the raw body. */
function signBytes(secret: string, bytes: Uint8Array): string {
  return `sha256=${createHmac('sha256', secret).update(bytes).digest('hex')}`;
}

function headersFor(signature: string): Record<string, string> {
  return {
    'content-type': 'application/json',
    'x-github-event': 'workflow_job',
    'x-github-delivery': 'd-1',
    'x-hub-signature-256': signature,
  };
}

async function post(harness: AppHarness, body: string | Uint8Array, headers: Record<string, string>) {
  const response = await harness.app.request('/webhook', { method: 'POST', headers, body });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

async function deliverSigned(harness: AppHarness, payload: ReturnType<typeof queuedPayload>, secret: string) {
  harness.github.addJob(payload.repository.full_name, payload.workflow_job);
  const { headers, body } = await signedDelivery(payload, secret);
  return post(harness, body, headers);
}

describe('the signature covers the bytes on the wire (#19 item 2)', () => {
  const payload = queuedPayload({ jobId: 501 });
  const json = JSON.stringify(payload);
  // An invalid UTF-8 byte (0xff) inside a string value; a decoder without `fatal` turns it into U+FFFD.
  const invalid = Buffer.concat([
    Buffer.from(json.slice(0, 10)),
    Buffer.from([0xff]),
    Buffer.from(json.slice(10)),
  ]);
  const withBom = Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(json)]);

  it('refuses a body signed over its decoded text rather than its bytes (invalid UTF-8)', async () => {
    h = await startAppHarness();
    const decoded = new TextDecoder().decode(invalid);
    const answer = await post(h, invalid, headersFor(await sign(WEBHOOK_SECRET, decoded)));
    expect(answer.status).toBe(401);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('refuses a body signed over its decoded text rather than its bytes (BOM)', async () => {
    h = await startAppHarness();
    const answer = await post(h, withBom, headersFor(await sign(WEBHOOK_SECRET, json)));
    expect(answer.status).toBe(401);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('answers 400, not 401, for a body that is not UTF-8 but is signed over its bytes as GitHub signs', async () => {
    h = await startAppHarness();
    const answer = await post(h, invalid, headersFor(signBytes(WEBHOOK_SECRET, invalid)));
    expect(answer).toEqual({ status: 400, body: { error: 'body is not UTF-8: GitHub sends UTF-8 JSON' } });
  });

  it('keeps a BOM signed over the bytes in the text, where JSON.parse refuses it (400)', async () => {
    h = await startAppHarness();
    const answer = await post(h, withBom, headersFor(signBytes(WEBHOOK_SECRET, withBom)));
    expect(answer.status).toBe(400);
    expect(answer.body.error).toMatch(/^body is not valid JSON/);
  });

  it('accepts multi-byte UTF-8 signed over its bytes', async () => {
    h = await startAppHarness();
    const named = queuedPayload({ jobId: 502 });
    (named.workflow_job as Record<string, unknown>).name = 'bauen ✓ 構築 🚀';
    h.github.addJob(named.repository.full_name, named.workflow_job);
    const bytes = Buffer.from(JSON.stringify(named));
    const answer = await post(h, bytes, headersFor(signBytes(WEBHOOK_SECRET, bytes)));
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'created' } });
  });
});

describe('a signature header that cannot be right is refused before the body is read (#19 item 1)', () => {
  for (const [what, signature] of [
    ['missing', undefined],
    ['sha1', `sha1=${'0'.repeat(40)}`],
    ['short', 'sha256=00'],
    ['not hex', `sha256=${'z'.repeat(64)}`],
  ] as const) {
    it(`${what}: 401 without pulling a chunk of the body`, async () => {
      h = await startAppHarness();
      let pulled = 0;
      const body = new ReadableStream<Uint8Array>({
        pull(controller) {
          pulled += 1;
          controller.enqueue(new Uint8Array(64 * 1024));
        },
      });
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (signature !== undefined) headers['x-hub-signature-256'] = signature;
      const response = await h.app.request('/webhook', {
        method: 'POST',
        headers,
        body,
        duplex: 'half',
      } as RequestInit);
      expect(response.status).toBe(401);
      // A ReadableStream pulls once to fill its queue on construction; the app pulled nothing more.
      expect(pulled).toBeLessThanOrEqual(1);
    });
  }

  it('refuses a signed body nested deeper than 32 levels before JSON.parse sees it (400)', async () => {
    h = await startAppHarness();
    const deep = `{"action":"queued","x":${'['.repeat(100_000)}${']'.repeat(100_000)}}`;
    const answer = await post(h, deep, headersFor(await sign(WEBHOOK_SECRET, deep)));
    expect(answer).toEqual({ status: 400, body: { error: 'payload nests deeper than 32 levels' } });
  });

  it('honours a lower WEBHOOK_MAX_BODY_BYTES', async () => {
    h = await startAppHarness({ WEBHOOK_MAX_BODY_BYTES: '4096' });
    const payload = queuedPayload({ jobId: 503 });
    (payload as Record<string, unknown>).pad = 'x'.repeat(5000);
    const answer = await deliverSigned(h, payload, WEBHOOK_SECRET);
    expect(answer.status).toBe(413);
  });
});

describe('per-owner webhook secrets (#19 item 5)', () => {
  const env = {
    WEBHOOK_SECRETS: 'octo-org=octo-secret\nhubot=hubot-new\nhubot=hubot-old',
    GITHUB_TOKENS: 'octo-org=github_pat_11ABCDEFG0123456789_secretpart',
  };

  it("verifies a delivery with its owner's own secret", async () => {
    h = await startAppHarness(env);
    const answer = await deliverSigned(h, queuedPayload({ jobId: 601, owner: 'octo-org' }), 'octo-secret');
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'created' } });
  });

  it('never accepts an owner with a secret of its own under the shared secret', async () => {
    h = await startAppHarness(env);
    const answer = await deliverSigned(h, queuedPayload({ jobId: 602, owner: 'octo-org' }), WEBHOOK_SECRET);
    expect(answer).toEqual({
      status: 401,
      body: {
        error:
          "signature mismatch: check that the secret of octo-org in WEBHOOK_SECRETS matches the webhook's secret on GitHub",
      },
    });
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it("refuses one tenant's secret for another tenant's delivery", async () => {
    h = await startAppHarness(env);
    const answer = await deliverSigned(h, queuedPayload({ jobId: 603, owner: 'octo-org' }), 'hubot-new');
    expect(answer.status).toBe(401);
    expect(h.kubernetes.jobs.size).toBe(0);
  });

  it('matches the owner case-insensitively, as GitHub logins are', async () => {
    h = await startAppHarness(env);
    const answer = await deliverSigned(h, queuedPayload({ jobId: 604, owner: 'Octo-Org' }), 'octo-secret');
    expect(answer.status).toBe(200);
  });

  it('accepts the previous secret during a rotation, and both the new and old shared secret', async () => {
    h = await startAppHarness({
      ...env,
      WEBHOOK_SECRET_PREVIOUS: 'shared-old',
      GITHUB_TOKENS: 'hubot=github_pat_11ABCDEFG0123456789_secretpart',
    });
    const hubot = (jobId: number) => queuedPayload({ jobId, owner: 'hubot' });
    expect((await deliverSigned(h, hubot(605), 'hubot-new')).status).toBe(200);
    expect((await deliverSigned(h, hubot(606), 'hubot-old')).status).toBe(200);
    expect((await deliverSigned(h, hubot(607), 'octo-secret')).status).toBe(401);
    const other = (jobId: number) => queuedPayload({ jobId, owner: 'lineville' });
    expect((await deliverSigned(h, other(608), WEBHOOK_SECRET)).status).toBe(200);
    expect((await deliverSigned(h, other(609), 'shared-old')).status).toBe(200);
    expect((await deliverSigned(h, other(610), 'hubot-new')).status).toBe(401);
  });

  it('refuses every owner without a secret when only WEBHOOK_SECRETS is set', async () => {
    h = await startAppHarness({ ...env, WEBHOOK_SECRET: '' });
    const answer = await deliverSigned(h, queuedPayload({ jobId: 611, owner: 'lineville' }), WEBHOOK_SECRET);
    expect(answer).toEqual({
      status: 401,
      body: {
        error:
          'no webhook secret for owner lineville: add lineville=<secret> to WEBHOOK_SECRETS, or set WEBHOOK_SECRET',
      },
    });
  });

  it('refuses a payload whose owner hides behind a duplicate key the scan and JSON.parse could read apart', async () => {
    h = await startAppHarness(env);
    // Signed by octo-org; a second "repository" names hubot. JSON.parse keeps the last key; so must the scan.
    const payload = queuedPayload({ jobId: 612, owner: 'octo-org' });
    const text = JSON.stringify(payload);
    const forged = text.replace(/}$/, `,"repository":{"name":"x","owner":{"login":"hubot"}}}`);
    const answer = await post(h, forged, headersFor(await sign('octo-secret', forged)));
    expect(answer.status).toBe(401);
    expect(h.kubernetes.jobs.size).toBe(0);
  });
});

describe('owner and repository names as GitHub allows them (#19 item 7)', () => {
  for (const [what, override, field] of [
    ['a / in the repository name', { repo: 'a/b' }, 'repository.name'],
    ['.. as the repository name', { repo: '..' }, 'repository.name'],
    ['.. as the owner', { owner: '..' }, 'repository.owner.login'],
    ['a %2F in the owner', { owner: 'a%2Fb' }, 'repository.owner.login'],
    ['a repository name of 101 characters', { repo: 'r'.repeat(101) }, 'repository.name'],
  ] as const) {
    it(`refuses ${what} with 400 and calls nobody`, async () => {
      h = await startAppHarness();
      const payload = queuedPayload({ jobId: 701, ...override });
      const { headers, body } = await signedDelivery(payload, WEBHOOK_SECRET);
      const answer = await post(h, body, headers);
      expect(answer.status).toBe(400);
      expect(String(answer.body.error)).toContain(`payload field ${field} must be`);
      expect(h.github.calls).toHaveLength(0);
      expect(h.kubernetes.jobs.size).toBe(0);
    });
  }

  it('accepts dots, hyphens and underscores where GitHub does', async () => {
    h = await startAppHarness();
    const answer = await deliverSigned(
      h,
      queuedPayload({ jobId: 702, owner: 'a-b', repo: '.github_x-1.y' }),
      WEBHOOK_SECRET,
    );
    expect(answer).toMatchObject({ status: 200, body: { outcome: 'created' } });
  });
});
