/**
 * `npm run build`: bundles the function into `dist/webhook.cjs` (one minified file holding every runtime
 * dependency) with its loader `dist/start.cjs`, then warms the V8 code cache (`scripts/warm-code-cache.ts`).
 * What `npm start`, the image and the OpenFaaS stack run. It also bundles `dist/doctor.cjs` (`scripts/doctor.ts`).
 * `--no-warm` skips the cache.
 */
import { rmSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { type BuildOptions, build, type Plugin } from 'esbuild';

import { BUNDLE, DOCTOR, OUTFILE } from './dist-paths.js';

export { BUNDLE, DOCTOR, OUTFILE } from './dist-paths.js';

const common = {
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  logLevel: 'warning',
} as const;

/**
 * prom-client's index loads its default metrics, one of which requires `@opentelemetry/api` (about 30 modules) for
 * exemplars. The function neither collects default metrics nor enables exemplars, so the bundle gets an empty
 * module in its place: every cold start evaluated it for nothing. Using it would fail loudly, not silently.
 */
const withoutOpenTelemetry: Plugin = {
  name: 'without-opentelemetry',
  setup(plugin) {
    plugin.onResolve({ filter: /^@opentelemetry\/api$/ }, () => ({
      path: 'opentelemetry',
      namespace: 'stub',
    }));
    plugin.onLoad({ filter: /.*/, namespace: 'stub' }, () => ({
      contents:
        "module.exports = new Proxy({}, { get() { throw new Error('@opentelemetry/api is not in the bundle: prom-client exemplars are off'); } });",
      loader: 'js',
    }));
  },
};

/** The esbuild options of the function's bundle (also used by the test that keeps it small). */
export const FUNCTION_BUNDLE: BuildOptions = {
  ...common,
  entryPoints: [fileURLToPath(new URL('../functions/webhook/main.ts', import.meta.url))],
  outfile: BUNDLE,
  minify: true,
  // Function and class names survive minification, so that the stack frames in the log (`err.stack`) name the
  // code that failed (`handleQueuedJob`, not `pm`). About 22 KB (7%) more bundle.
  keepNames: true,
  sourcemap: true,
  plugins: [withoutOpenTelemetry],
};

/** The doctor's bundle: one file with every dependency, run by `node dist/doctor.cjs` in the image too. */
export const DOCTOR_BUNDLE: BuildOptions = {
  ...common,
  entryPoints: [fileURLToPath(new URL('./doctor.ts', import.meta.url))],
  outfile: DOCTOR,
  minify: true,
  keepNames: true,
};

/** Builds the bundle and its loader; removes a code cache of an earlier bundle. */
export async function buildBundle(): Promise<string> {
  rmSync(`${BUNDLE}.cache`, { force: true });
  await build(FUNCTION_BUNDLE);
  await build({
    ...common,
    entryPoints: [fileURLToPath(new URL('../functions/webhook/start.ts', import.meta.url))],
    outfile: OUTFILE,
  });
  return OUTFILE;
}

/** Builds `dist/doctor.cjs` (not part of `buildBundle`: the unit tests, which build that, never run it). */
export async function buildDoctor(): Promise<string> {
  await build(DOCTOR_BUNDLE);
  return DOCTOR;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const started = performance.now();
  await buildBundle();
  await buildDoctor();
  process.stdout.write(`built ${OUTFILE} and ${DOCTOR} in ${Math.round(performance.now() - started)} ms\n`);
  if (!process.argv.includes('--no-warm')) {
    const { warmCodeCache } = await import('./warm-code-cache.js');
    const size = await warmCodeCache();
    process.stdout.write(`code cache written (${(size / 1024 / 1024).toFixed(1)} MB)\n`);
  }
}
