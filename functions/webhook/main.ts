/**
 * The function's main, and the entry of its bundle (`dist/webhook.cjs`, loaded by `start.ts`, the process entry):
 * reads the configuration once, builds the dependencies (`createDeps`), and serves the app. The only file that
 * touches `process.env` or starts a server.
 */
import type { AddressInfo } from 'node:net';
import { ConfigError, redactConfig } from '../../shared/config/load-config.js';
import { SERVER_OPTIONS } from '../../shared/http/server-options.js';
import { createLogger } from '../../shared/log/create-logger.js';
import { createApp } from './app.js';
import { createDeps } from './create-deps.js';
import { loadStartup, type Startup } from './load-startup.js';
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
  // Stop accepting, let the deliveries in flight finish, push the last metrics, exit. Knative's default grace
  // period is 30 s; a delivery cannot take more than GitHub's 10 s.
  server.close(() => {
    void (deps.metricsPush?.flush() ?? Promise.resolve()).finally(() => process.exit(0));
  });
  setTimeout(() => process.exit(0), 15_000).unref();
}
process.once('SIGTERM', () => shutdown('SIGTERM'));
process.once('SIGINT', () => shutdown('SIGINT'));
