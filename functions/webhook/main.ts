/**
 * The function's main, and the entry of its bundle (`dist/webhook.cjs`, loaded by `start.ts`, the process entry):
 * reads the configuration once, builds the dependencies (`createDeps`), and serves the app, or, when started as
 * `start.cjs reconcile` (the reconcile CronJob's pod), runs the reconcile task and exits. The only file that
 * touches `process.env` or starts a server.
 */
import type { AddressInfo } from 'node:net';
import { ConfigError, redactConfig } from '../../shared/config/load-config.js';
import { SERVER_OPTIONS } from '../../shared/http/server-options.js';
import { createLogger } from '../../shared/log/create-logger.js';
import { createApp } from './app.js';
import { createDeps } from './create-deps.js';
import { loadStartup, type Startup } from './load-startup.js';
import { runReconcileTask } from './reconcile-task.js';
import { createAppServer } from './serve-app.js';
import { createWebhookRoute } from './webhook-route.js';

function fail(message: string, problems: readonly string[] = []): never {
  process.stderr.write(`${JSON.stringify({ level: 'fatal', msg: message, problems })}\n`);
  process.exit(1);
}

let startup: Startup;
try {
  startup = loadStartup(process.env);
} catch (error) {
  if (error instanceof ConfigError) {
    fail('invalid configuration: see the README configuration table', error.problems);
  }
  fail((error as Error).message);
}
const { config, kubernetes } = startup;

const log = createLogger(config.logLevel);

const deps = createDeps({ config, kubernetes, log });
if (process.argv[2] === 'reconcile') {
  void reconcileAndExit();
} else {
  serve();
}

/** The reconcile CronJob's pod: passes while work is left (reconcile-task.ts), the last metrics pushed, exit. */
async function reconcileAndExit(): Promise<void> {
  let stopping = false;
  // The Job's activeDeadlineSeconds (or a node drain) ends the task between two passes: a pass cut short in the
  // middle is safe (every record is claimed before it is touched), but a finished one is cheaper.
  process.once('SIGTERM', () => {
    stopping = true;
  });
  const taskLog = log.child({ task: 'reconcile' });
  let code = 0;
  try {
    const report = await runReconcileTask(deps, taskLog, {
      hooks: config.reconcileHooks,
      budgetMs: config.reconcileBudgetSeconds * 1000,
      runForMs: config.reconcileRunSeconds * 1000,
      // Records waiting for GitHub's limits are tried again this often: one LIST a try when none can start yet.
      pauseMs: 5000,
      running: () => !stopping,
    });
    taskLog.info(report, 'reconcile task done');
  } catch (error) {
    // A pass that could not even list the records (the API server unreachable, RBAC): the Job fails, visibly.
    taskLog.error({ err: error }, 'reconcile task failed');
    code = 1;
  }
  await stopped();
  process.exit(code);
}

/**
 * What a stopping process owes the others: the GitHub calls it took and did not use, given back (else they stay
 * counted for the fleet until their block expires), and its last metrics.
 */
async function stopped(): Promise<void> {
  await Promise.allSettled([deps.budget?.release(), deps.metricsPush?.flush()]);
}

function serve(): void {
  const webhook = createWebhookRoute(deps);
  const app = createApp(deps, webhook);

  const hostname = process.env.HOST ?? '0.0.0.0';
  const server = createAppServer(app, webhook, SERVER_OPTIONS);
  server.listen(config.port, hostname, () => {
    // Whatever LOG_LEVEL (but silent): the one line that says where the function listens (with PORT=0, the port the
    // system chose; tests start it so) and with which configuration.
    const startupLog = config.logLevel === 'silent' ? log : log.child({}, { level: 'info' });
    startupLog.info(
      {
        port: (server.address() as AddressInfo).port,
        cluster: kubernetes.server.origin,
        kubeconfig: kubernetes.source,
        config: redactConfig(config),
      },
      'listening',
    );
  });

  // A port taken by another process (or one a user may not bind) is a start-up problem like any other: one line that
  // says what to do, not the stack trace of an unhandled 'error' event.
  server.once('error', (error: NodeJS.ErrnoException) => {
    const where = `${hostname}:${config.port}`;
    fail(
      error.code === 'EADDRINUSE'
        ? `cannot listen on ${where}: the port is in use by another process; stop it or set PORT`
        : `cannot listen on ${where}: ${error.code ?? error.message}`,
    );
  });

  function shutdown(signal: string): void {
    log.info({ signal }, 'shutting down');
    // Stop accepting, let the deliveries in flight finish, give back unused GitHub calls, push the last metrics, exit. Knative's default grace
    // period is 30 s; a delivery cannot take more than GitHub's 10 s.
    server.close(() => {
      void stopped().finally(() => process.exit(0));
    });
    setTimeout(() => process.exit(0), 15_000).unref();
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'));
  process.once('SIGINT', () => shutdown('SIGINT'));
}
