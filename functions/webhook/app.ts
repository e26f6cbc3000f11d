import { randomUUID } from 'node:crypto';
import { type Context, Hono, type Next } from 'hono';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import {
  ForbiddenError,
  NoCredentialError,
  PayloadError,
  PayloadTooLargeError,
  PermanentUpstreamError,
  SignatureError,
  UpstreamError,
} from '../../shared/errors/errors.js';
import type { Logger } from '../../shared/log/create-logger.js';
import { serveMetrics } from '../../shared/metrics/serve-metrics.js';
import { refusalReason } from '../../shared/policy/repository-policy.js';
import { deadlineIn } from '../../shared/retry/with-retries.js';
import { DELIVERY_BUDGET_MS } from '../../shared/webhook/delivery-budget.js';
import { parsePing, parseWorkflowJob } from '../../shared/webhook/parse-workflow-job.js';
import { readSignedBody } from '../../shared/webhook/read-signed-body.js';
import { requestBodyOf } from '../../shared/webhook/request-body.js';
import type { HandlerDeps } from './deps.js';
import { handleCompletedJob } from './handle-completed-job.js';
import { handleInProgressJob } from './handle-in-progress-job.js';
import { handleQueuedJob } from './handle-queued-job.js';
import type { Outcome } from './outcome.js';
import { reconcile } from './reconcile.js';
import { requireBearer } from './require-bearer.js';
import { createWaitingPacer, startWaitingRecords } from './start-waiting.js';

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
  const pacer = createWaitingPacer(deps, log);

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
  const webhook = async (c: Context<Env>) => {
    const { payload: body } = await readSignedBody(requestBodyOf(c), {
      secrets: config.webhookSecrets,
      maxBytes: config.maxBodyBytes,
    });
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
      // Durable, then paced: a delivery that got its runner starts a few that wait for GitHub, budget allowing.
      if (outcome.outcome === 'created') await startWaitingRecords(deps, job, jobLog, deadline);
      else if (outcome.outcome === 'waiting') pacer.remember(job);
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
    if (job.action === 'in_progress') {
      return answer(c, jobLog, 200, await handleInProgressJob(deps, job, jobLog, deadline));
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
      scope: c.req.query('scope') === 'records' ? 'records' : 'all',
    });
    reconcileLog.info(report, 'reconcile done');
    return c.json(report, 200);
  });

  app.post('/webhook', observe, webhook);
  app.post('/', observe, webhook);

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    const requestLog = c.get('log') ?? log;
    const [status, message] = statusOf(error);
    if (status >= 500) {
      // The answer names no upstream text (GitHub shows it to repository admins): the log has the detail, under
      // an id the answer carries.
      const errorId = randomUUID();
      requestLog.error({ status, outcome: 'failed', errorId, err: error }, message);
      return c.json(
        { error: `${message}; the function's log has the details under errorId`, errorId },
        status,
      );
    }
    requestLog.warn({ status, outcome: 'refused', reason: message }, 'webhook refused');
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

function statusOf(error: Error): [ContentfulStatusCode, string] {
  if (error instanceof SignatureError) return [401, error.message];
  if (error instanceof ForbiddenError) return [403, error.message];
  // No credential for this owner: a configuration gap. 422 shows on GitHub and can be redelivered once fixed.
  if (error instanceof NoCredentialError) return [422, error.message];
  if (error instanceof PayloadError) return [400, error.message];
  if (error instanceof PayloadTooLargeError) return [413, error.message];
  // GitHub's 400/404/422: asking again cannot help; the reason is ours, never GitHub's text.
  if (error instanceof PermanentUpstreamError) return [422, error.reason];
  if (error instanceof UpstreamError) {
    const who = error.upstream === 'github' ? 'GitHub' : 'the Kubernetes API';
    return [502, `${who} failed${error.status === undefined ? '' : ` (HTTP ${error.status})`}`];
  }
  return [500, 'internal error'];
}
