import { randomUUID } from 'node:crypto';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import type { WebhookSecrets } from '../../shared/config/webhook-secrets.js';
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
import { refusalReason } from '../../shared/policy/repository-policy.js';
import { deadlineIn } from '../../shared/retry/with-retries.js';
import { DELIVERY_BUDGET_MS } from '../../shared/webhook/delivery-budget.js';
import {
  parsePing,
  parseWorkflowJob,
  type WorkflowJobEvent,
} from '../../shared/webhook/parse-workflow-job.js';
import { readSignedBody } from '../../shared/webhook/read-signed-body.js';
import type { HandlerDeps } from './deps.js';
import { handleCompletedJob } from './handle-completed-job.js';
import { handleInProgressJob } from './handle-in-progress-job.js';
import { handleQueuedJob } from './handle-queued-job.js';
import { observeJob } from './observe-job.js';
import type { Outcome } from './outcome.js';
import { createWaitingPacer, startWaitingRecords, type WaitingPacer } from './start-waiting.js';

export interface WebhookDeps extends HandlerDeps {
  readonly log: Logger;
  /** Called after every answered delivery (the metrics push hooks in here); must not block or throw. */
  readonly afterDelivery?: () => void;
}

/** A webhook request as the route reads it, whatever server received it. */
export interface WebhookRequest {
  /** A request header by its lower-case name. */
  header(name: string): string | undefined;
  /** The body, not read yet: its bytes as they arrive. */
  readonly body: AsyncIterable<Uint8Array> | null;
}

/** What a delivery is answered: a status and a JSON body. */
export interface WebhookAnswer {
  readonly status: ContentfulStatusCode;
  readonly body:
    | Outcome
    | { readonly outcome: 'pong' }
    | { readonly error: string; readonly errorId?: string };
}

/** Reads, verifies and handles one delivery; never throws (a failure is an answer, logged once). */
export type WebhookRoute = (request: WebhookRequest) => Promise<WebhookAnswer>;

/**
 * The webhook (`POST /webhook` and `POST /`), apart from any HTTP framework: the Hono app routes it for tests and
 * other runtimes, and the production server (`serve-app.ts`) calls it straight from `node:http`, without the WHATWG
 * Request, Hono context and Response a delivery would otherwise cost. Each delivery is timed and counted
 * (`webhook_requests_total` by status and repository) and logged under one child logger with its delivery id,
 * event, action, repository and job id.
 */
export function createWebhookRoute(deps: WebhookDeps): WebhookRoute {
  const { config, metrics, log } = deps;
  const pacer = createWaitingPacer(deps, log);
  const bodyOptions = { secrets: config.webhookSecrets, maxBytes: config.maxBodyBytes };

  return async (request) => {
    const stopTimer = metrics.webhookLatency.startTimer();
    const delivery = {
      delivery: request.header('x-github-delivery') ?? null,
      event: request.header('x-github-event') ?? null,
    };
    // The delivery's logger: made when first needed, and once the job is known with its fields as well (one
    // child, not a child of a child: each costs pino a pass of its redaction over the values).
    let deliveryLog: Logger | undefined;
    const logOf = () => {
      deliveryLog ??= log.child(delivery);
      return deliveryLog;
    };
    let job: WorkflowJobEvent | undefined;
    let answer: WebhookAnswer;
    try {
      const delivered = await readDelivery(request, delivery.event, bodyOptions);
      if (delivered.kind === 'ping') {
        logOf().info({ hookId: delivered.hookId, outcome: 'pong' }, 'ping received: the webhook is set up');
        answer = { status: 200, body: { outcome: 'pong' } };
      } else if (delivered.kind === 'other') {
        answer = answered(logOf(), 200, {
          outcome: 'ignored',
          reason: `event ${delivery.event ?? '(none)'} is not handled`,
        });
      } else {
        job = delivered.job;
        deliveryLog = log.child({
          ...delivery,
          action: job.action,
          repo: `${job.owner}/${job.repo}`,
          jobId: job.jobId,
        });
        answer = await handleJob(deps, pacer, job, request, deliveryLog);
      }
    } catch (error) {
      answer = errorAnswer(error as Error, logOf());
    }
    stopTimer();
    metrics.webhookRequests.inc({
      status: String(answer.status),
      owner: job?.owner ?? '',
      repo: job?.repo ?? '',
    });
    deps.afterDelivery?.();
    return answer;
  };
}

/** What a delivery's body holds for the route: a ping, a job, or an event it does not handle. */
type Delivered =
  | { readonly kind: 'ping'; readonly hookId: number | null }
  | { readonly kind: 'job'; readonly job: WorkflowJobEvent }
  | { readonly kind: 'other' };

/**
 * Reads and verifies the body, and keeps of the payload only what the route uses: an async function keeps its
 * locals until it returns, and a whole parsed payload (some 30 KB of objects) held by each delivery while its
 * calls are in flight made a burst's young generation survive into the old one (GC was a sixth of its CPU).
 */
async function readDelivery(
  request: WebhookRequest,
  event: string | null,
  options: { readonly secrets: WebhookSecrets; readonly maxBytes: number },
): Promise<Delivered> {
  const { payload } = await readSignedBody(
    {
      source: request.body,
      headers: {
        signature: request.header('x-hub-signature-256'),
        contentLength: request.header('content-length'),
        contentType: request.header('content-type'),
      },
    },
    options,
  );
  if (event === 'ping') return { kind: 'ping', hookId: parsePing(payload).hookId };
  if (event !== 'workflow_job') return { kind: 'other' };
  return { kind: 'job', job: parseWorkflowJob(payload) };
}

async function handleJob(
  deps: WebhookDeps,
  pacer: WaitingPacer,
  job: WorkflowJobEvent,
  request: WebhookRequest,
  jobLog: Logger,
): Promise<WebhookAnswer> {
  // Owners and repositories outside the policy are refused whatever signed the delivery. 200: the refusal is
  // final, and a failed delivery would only be redelivered to be refused again.
  const refusal = refusalReason(deps.config.policy, job);
  if (refusal !== undefined) {
    jobLog.warn({ reason: refusal }, 'repository refused by policy');
    return answered(jobLog, 200, { outcome: 'ignored', reason: refusal });
  }
  // GitHub gives a delivery 10 s; keep a margin for the answer to travel back.
  const deadline = deadlineIn(DELIVERY_BUDGET_MS);
  if (job.action === 'queued') {
    const hookId = Number(request.header('x-github-hook-id'));
    const delivery = {
      id: request.header('x-github-delivery') ?? '',
      hookId: Number.isSafeInteger(hookId) && hookId > 0 ? hookId : undefined,
    };
    const outcome = await handleQueuedJob(deps, job, delivery, jobLog, deadline);
    // Durable, then paced: a delivery that got its runner starts a few that wait for GitHub, budget allowing.
    if (outcome.outcome === 'created') await startWaitingRecords(deps, job, jobLog, deadline);
    else if (outcome.outcome === 'waiting') pacer.remember(job);
    // 202: the runner job is recorded but another delivery is still starting it; reconcile finishes it if not.
    return answered(
      jobLog,
      outcome.outcome === 'pending' || outcome.outcome === 'waiting' ? 202 : 200,
      outcome,
    );
  }
  if (job.action === 'completed') {
    const outcome = await handleCompletedJob(deps, job, jobLog, deadline);
    observeJob(deps.metrics, deps.config.profiles, job);
    return answered(jobLog, 200, outcome);
  }
  if (job.action === 'in_progress') {
    const outcome = await handleInProgressJob(deps, job, jobLog, deadline);
    observeJob(deps.metrics, deps.config.profiles, job);
    return answered(jobLog, 200, outcome);
  }
  return answered(jobLog, 200, { outcome: 'ignored', reason: `action ${job.action} is not handled` });
}

function answered(log: Logger, status: ContentfulStatusCode, outcome: Outcome): WebhookAnswer {
  const reason = 'reason' in outcome ? outcome.reason : undefined;
  log.info({ status, ...outcome }, reason ?? `runner job ${outcome.outcome}`);
  return { status, body: outcome };
}

/**
 * The answer to a request that failed, logged once: a refusal (4xx) with its reason, a failure (5xx) under an error
 * id and without upstream text. The app's `onError` answers its other routes the same way.
 */
export function errorAnswer(error: Error, log: Logger): WebhookAnswer {
  const [status, message] = statusOf(error);
  if (status >= 500) {
    // The answer names no upstream text (GitHub shows it to repository admins): the log has the detail, under
    // an id the answer carries.
    const errorId = randomUUID();
    log.error({ status, outcome: 'failed', errorId, err: error }, message);
    return {
      status,
      body: { error: `${message}; the function's log has the details under errorId`, errorId },
    };
  }
  log.warn({ status, outcome: 'refused', reason: message }, 'webhook refused');
  return { status, body: { error: message } };
}

/** The status an error is answered with, and the message the answer and the log give. */
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
