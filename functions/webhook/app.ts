import { type Context, Hono } from 'hono';
import { serveMetrics } from '../../shared/metrics/serve-metrics.js';
import { requestBodyOf } from '../../shared/webhook/request-body.js';
import { reconcile } from './reconcile.js';
import { requireBearer } from './require-bearer.js';
import { createWebhookRoute, errorAnswer, type WebhookDeps, type WebhookRoute } from './webhook-route.js';

export type AppDeps = WebhookDeps;

/**
 * The HTTP surface: the webhook at `/webhook` and `/` (`webhook`, which the production server also calls directly),
 * health, readiness, metrics and reconcile. No I/O until a request.
 */
export function createApp(deps: AppDeps, webhook: WebhookRoute = createWebhookRoute(deps)): Hono {
  const { config, metrics, log } = deps;
  const app = new Hono();

  app.get('/health', (c) => c.json({ status: 'ok' }));
  // OpenFaaS probes functions at /_/health.
  app.get('/_/health', (c) => c.json({ status: 'ok' }));
  // Ready once the app exists: createApp is only reached with a valid config and built clients.
  app.get('/ready', (c) => c.json({ status: 'ready', mode: config.runnerMode, namespace: config.namespace }));
  app.get('/metrics', (c) => serveMetrics(metrics, config.metrics.token, c.req.header('authorization')));

  const webhookRoute = async (c: Context) => {
    const answer = await webhook({ header: (name) => c.req.header(name), body: requestBodyOf(c) });
    return c.json(answer.body, answer.status);
  };

  app.post('/reconcile', async (c) => {
    // By hand (`curl -X POST`): the shipped schedule runs the task in a pod of its own (reconcile-task.ts), which
    // never wakes the Service.
    requireBearer(config.reconcileToken, c.req.header('authorization'));
    const reconcileLog = log.child({ task: 'reconcile' });
    const report = await reconcile(deps, reconcileLog, {
      hooks: config.reconcileHooks,
      budgetMs: config.reconcileBudgetSeconds * 1000,
      scope: c.req.query('scope') === 'records' ? 'records' : 'all',
    });
    reconcileLog.info(report, 'reconcile done');
    return c.json(report, 200);
  });

  app.post('/webhook', webhookRoute);
  app.post('/', webhookRoute);

  app.notFound((c) => c.json({ error: `no route for ${c.req.method} ${c.req.path}` }, 404));
  app.onError((error, c) => {
    const answer = errorAnswer(error, log);
    return c.json(answer.body, answer.status);
  });
  return app;
}
