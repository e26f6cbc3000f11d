import { type DestinationStream, type Logger, pino } from 'pino';
import type { LogLevel } from '../config/load-config.js';
import { loggableError } from '../errors/errors.js';

export type { Logger } from 'pino';

/**
 * Paths that are always censored, whatever a caller passes in: secrets are redacted by configuration, not by
 * remembering. The JIT config is as good as a runner registration and must never reach a log.
 */
export const REDACTED_PATHS = [
  'webhookSecret',
  'githubToken',
  'privateKey',
  'fallbackToken',
  'token',
  'authorization',
  'encodedJitConfig',
  'jitConfig',
  '*.webhookSecret',
  '*.githubToken',
  '*.privateKey',
  '*.fallbackToken',
  '*.token',
  '*.authorization',
  '*.encodedJitConfig',
  '*.jitConfig',
  'headers.authorization',
  'request.headers.authorization',
];

/** A JSON logger writing one line per event to stdout (or `destination`, for tests). */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  const options = {
    level,
    base: { service: 'kube-actions-runner' },
    redact: { paths: REDACTED_PATHS, censor: '***' },
    // Errors without their causes, messages redacted and cut: an upstream's own text never reaches a log whole.
    serializers: { err: loggableError },
    formatters: { level: (label: string) => ({ level: label }) },
    timestamp: pino.stdTimeFunctions.isoTime,
  };
  return destination === undefined ? pino(options) : pino(options, destination);
}
