/**
 * The process entry (`node dist/start.cjs`): loads the bundled function (`dist/webhook.cjs`) through a V8 code
 * cache, so that a cold start does not parse and compile the bundle again. The cache (`webhook.cjs.cache`) is
 * written by `npm run build`, which runs the function once through a webhook so that the code of the webhook
 * path is in it. Node.js 22+ offers `module.enableCompileCache`, but its cache is made when a module is compiled,
 * before it runs, so it lacks every function compiled lazily on the first delivery: on Node.js 24 it is a quarter
 * of this cache's size and the first webhook comes later (docs/performance.md), hence `vm.Script` with
 * `cachedData`. A cache from another Node.js build, or from another bundle, is rejected by V8 and the bundle is
 * simply compiled as usual.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire, wrap } from 'node:module';
import { dirname, join } from 'node:path';
import { Script } from 'node:vm';

const bundle = join(__dirname, 'webhook.cjs');
const cacheFile = `${bundle}.cache`;
const cachedData = existsSync(cacheFile) ? readFileSync(cacheFile) : undefined;
const script = new Script(wrap(readFileSync(bundle, 'utf8')), {
  filename: bundle,
  ...(cachedData === undefined ? {} : { cachedData }),
});
if (process.env.KAR_WRITE_CODE_CACHE === '1') {
  // Written at exit, after the run compiled what a real delivery needs.
  process.once('exit', () => writeFileSync(cacheFile, script.createCachedData()));
}
const load = script.runInThisContext() as (
  exports: unknown,
  require: NodeJS.Require,
  module: { exports: unknown },
  filename: string,
  dirname: string,
) => void;
const module = { exports: {} };
load.call(module.exports, module.exports, createRequire(bundle), module, bundle, dirname(bundle));
