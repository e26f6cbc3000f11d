import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { TestProject } from 'vitest/node';
import { buildBundle } from '../../scripts/build.js';

const statsdScript = fileURLToPath(new URL('../../scripts/metrics/statsd-exporter.sh', import.meta.url));

declare module 'vitest' {
  export interface ProvidedContext {
    statsdExporter: string;
  }
}

/** Builds the bundle the processes run and the pinned statsd_exporter (once; then cached). */
export default async function setup(project: TestProject): Promise<void> {
  await buildBundle();
  const path = execFileSync('bash', [statsdScript], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  project.provide('statsdExporter', path.trim());
}
