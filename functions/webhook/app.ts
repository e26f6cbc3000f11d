import { type Context, Hono, type Next } from 'hono';
import { bodyLimit } from 'hono/body-limit';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ForbiddenError,
  NoCredentialError,
  PayloadError,
  SignatureError,
  UpstreamError,
} from '../../shared/errors/errors.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { serveMetrics } from '../../shared/metrics/serve-metrics.js';
import { refusalReason } from '../../shared/policy/repository-policy.js';
import { deadlineIn } from '../../shared/retry/with-retries.js';
import { DELIVERY_BUDGET_MS } from '../../shared/webhook/delivery-budget.js';
import { parsePing, parseWorkflowJob } from '../../shared/webhook/parse-workflow-job.js';
import { verifySignature } from '../../shared/webhook/verify-signature.js';
import type { HandlerDeps } from './deps.js';
import { handleCompletedJob } from './handle-completed-job.js';
import { handleQueuedJob } from './handle-queued-job.js';
import type { Outcome } from './outcome.js';
import { reconcile } from './reconcile.js';
import { requireBearer } from './require-bearer.js';

/** GitHub caps webhook payloads at 25 MB and does not deliver larger ones. */
export const MAX_BODY_BYTES = 25 * 1024 * 1024;

export interface AppDeps extends HandlerDeps {
  readonly log: Logger;
  /** Called after every answered delivery (the metrics push hooks in here); must not block or throw. */
  readonly afterDelivery?: () => void;
}

type Env = { Variables: { log: Logger; owner: string; repo: string } };

/** The HTTP surface: the webhook at `/webhook` and `/`, health, readiness and metrics. No I/O until a request. */
export function createApp(deps: AppDeps): Hono<Env> {
  const { config, metrics, log } = deps;
  const app = new Hono<Env>();

  app.get('/health', (c) => c.json({ status: 'ok' }));
  // OpenFaaS probes functions at /_/health.
  app.get('/_/health', (c) => c.json({ status: 'ok' }));
  // Ready once the app exists: createApp is only reached with a valid config and built clients.
  app.get('/ready', (c) => c.json({ status: 'ready', mode: config.runnerMode, namespace: config.namespace }));
  app.get('/metrics', (c) => serveMetrics(metrics, config.metrics.token, c.req.header('authorization')));

  const observe = async (c: Context<Env>, next: Next) => {
    const stopTimer = metrics.webhookLatency.startTimer();
    c.set('owner', '');
    c.set('repo', '');
    c.set(
      'log',
      log.child({
        delivery: c.req.header('x-github-delivery') ?? null,
        event: c.req.header('x-github-event') ?? null,
      }),
    );
    await next();
    stopTimer();
    metrics.webhookRequests.inc({ status: String(c.res.status), owner: c.get('owner'), repo: c.get('repo') });
    deps.afterDelivery?.();
  };
  const tooLarge = (c: Context<Env>) => {
    c.get('log').warn({ status: 413 }, 'webhook body over 25 MB refused');
    return c.json({ error: 'payload too large: GitHub never sends webhook bodies over 25 MB' }, 413);
  };
  const streamingLimit = bodyLimit({ maxSize: MAX_BODY_BYTES, onError: tooLarge });
  /**
   * A body with a declared Content-Length (every GitHub delivery) is judged by its header, and Node's parser reads
   * no more than it declares. Only a body without one (chunked) is counted while it streams, by Hono's
   * bodyLimit. Not hono's bodyLimit for both: it reads `c.req.raw.body`, which makes @hono/node-server build a
   * full WHATWG Request with a web stream for every delivery instead of reading the body directly.
   */
  const limit = async (c: Context<Env>, next: Next) => {
    const declared = c.req.header('content-length');
    if (declared === undefined || c.req.header('transfer-encoding') !== undefined)
      return streamingLimit(c, next);
    if (!/^\d+$/.test(declared)) return c.json({ error: 'invalid Content-Length header' }, 400);
    if (Number(declared) > MAX_BODY_BYTES) return tooLarge(c);
    await next();
  };

  const webhook = async (c: Context<Env>) => {
    const raw = await c.req.text();
    await verifySignature(config.webhookSecret, raw, c.req.header('x-hub-signature-256'));
    const body = payloadOf(raw, c.req.header('content-type'));
    const event = c.req.header('x-github-event');
    const deliveryId = c.req.header('x-github-delivery') ?? '';
    const requestLog = c.get('log');

    if (event === 'ping') {
      const { hookId } = parsePing(body);
      requestLog.info({ hookId, outcome: 'pong' }, 'ping received: the webhook is set up');
      return c.json({ outcome: 'pong' }, 200);
    }
    if (event !== 'workflow_job') {
      return answer(c, requestLog, 200, {
        outcome: 'ignored',
        reason: `event ${event ?? '(none)'} is not handled`,
      });
    }
    const job = parseWorkflowJob(body);
    c.set('owner', job.owner);
    c.set('repo', job.repo);
    const jobLog = requestLog.child({
      action: job.action,
      repo: `${job.owner}/${job.repo}`,
      jobId: job.jobId,
    });
    c.set('log', jobLog);
    // Owners and repositories outside the policy are refused whatever signed the delivery. 200: the refusal is
    // final, and a failed delivery would only be redelivered to be refused again.
    const refusal = refusalReason(config.policy, job);
    if (refusal !== undefined) {
      jobLog.warn({ reason: refusal }, 'repository refused by policy');
      return answer(c, jobLog, 200, { outcome: 'ignored', reason: refusal });
    }
    // GitHub gives a delivery 10 s; keep a margin for the answer to travel back.
    const deadline = deadlineIn(DELIVERY_BUDGET_MS);
    if (job.action === 'queued') {
      const hookId = Number(c.req.header('x-github-hook-id'));
      const delivery = {
        id: deliveryId,
        hookId: Number.isSafeInteger(hookId) && hookId > 0 ? hookId : undefined,
      };
      const outcome = await handleQueuedJob(deps, job, delivery, jobLog, deadline);
      // 202: the runner job is recorded but another delivery is still starting it; reconcile finishes it if not.
      return answer(
        c,
        jobLog,
        outcome.outcome === 'pending' || outcome.outcome === 'waiting' ? 202 : 200,
        outcome,
      );
    }
    if (job.action === 'completed') {
      return answer(c, jobLog, 200, await handleCompletedJob(deps, job, jobLog, deadline));
    }
    return answer(c, jobLog, 200, { outcome: 'ignored', reason: `action ${job.action} is not handled` });
  };

  app.post('/reconcile', async (c) => {
    // A Knative PingSource cannot send an Authorization header; it sends the token as a CloudEvent extension.
    const pingToken = c.req.header('ce-reconciletoken');
    requireBearer(
      config.reconcileToken,
      c.req.header('authorization') ?? (pingToken ? `Bearer ${pingToken}` : undefined),
    );
    const reconcileLog = log.child({ task: 'reconcile' });
    const report = await reconcile(deps, reconcileLog, {
      hooks: config.reconcileHooks,
      budgetMs: config.reconcileBudgetSeconds * 1000,
    });
    reconcileLog.info(report, 'reconcile done');
    return c.json(report, 200);
  });

  app.post('/webhook', observe, limit, webhook);
  app.post('/', observe, limit, webhook);

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    const requestLog = c.get('log') ?? log;
    const [status, message] = statusOf(error);
    if (status >= 500) {
      requestLog.error({ status, outcome: 'failed', err: error }, message);
    } else {
      requestLog.warn({ status, outcome: 'refused', reason: message }, 'webhook refused');
    }
    return c.json({ error: message }, status);
  });
  return app;
}

function answer(
  c: { json: (body: Outcome, status: ContentfulStatusCode) => Response },
  log: Logger,
  status: ContentfulStatusCode,
  outcome: Outcome,
): Response {
  const reason = 'reason' in outcome ? outcome.reason : undefined;
  log.info({ status, ...outcome }, reason ?? `runner job ${outcome.outcome}`);
  return c.json(outcome, status);
}

/** GitHub sends JSON, or with content type `application/x-www-form-urlencoded`, JSON in a `payload` field. */
function payloadOf(raw: string, contentType: string | undefined): string {
  if (contentType?.startsWith('application/x-www-form-urlencoded')) {
    const payload = new URLSearchParams(raw).get('payload');
    if (payload === null) throw new PayloadError('form-encoded body has no payload field');
    return payload;
  }
  return raw;
}

function statusOf(error: Error): [ContentfulStatusCode, string] {
  if (error instanceof SignatureError) return [401, error.message];
  if (error instanceof ForbiddenError) return [403, error.message];
  // No credential for this owner: a configuration gap. 422 shows on GitHub and can be redelivered once fixed.
  if (error instanceof NoCredentialError) return [422, error.message];
  if (error instanceof PayloadError) return [400, error.message];
  if (error instanceof UpstreamError) return [502, error.message];
  return [500, 'internal error'];
}
