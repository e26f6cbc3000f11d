/**
 * `npm run doctor -- [--repo owner/name ...] [--as system:serviceaccount:NS:NAME] [--labels a,b] [--timeout S] [--json]`
 * (in the image: `node dist/doctor.cjs ...`)
 *
 * With the function's own configuration and credentials (its environment, `*_FILE` settings and kubeconfig or
 * service account, read as the function reads them), checks the cluster, GitHub and the webhooks, and prints a
 * table: check, ✓/✗/!, what was seen, the fix. Exits 1 when any check failed (✗), 2 on bad usage.
 */

import { formatTable } from '../shared/doctor/format-table.js';
import { runDoctor } from '../shared/doctor/run-doctor.js';
import { parseCommandLine } from './command-line.js';

const usage =
  'usage: npm run doctor -- [--repo owner/name ...] [--as system:serviceaccount:NAMESPACE:NAME] [--labels self-hosted,linux] [--timeout SECONDS] [--json]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

const values = parseCommandLine(
  {
    repo: { type: 'string', multiple: true },
    as: { type: 'string' },
    labels: { type: 'string' },
    timeout: { type: 'string' },
    json: { type: 'boolean' },
  },
  usage,
  fail,
);
const repositories = (values.repo ?? []).map((full) => {
  const [owner, repo, extra] = full.split('/');
  if (!owner || !repo || extra !== undefined) fail(`--repo ${full}: not owner/name`);
  return { owner, repo };
});
const timeoutSeconds = values.timeout === undefined ? 10 : Number(values.timeout);
if (!(timeoutSeconds > 0 && timeoutSeconds <= 600)) fail('--timeout must be seconds, from 1 to 600');

// No top-level await: the image runs this as a CommonJS bundle.
void runDoctor({
  env: process.env,
  repositories,
  ...(values.labels
    ? {
        labels: values.labels
          .split(',')
          .map((label) => label.trim())
          .filter(Boolean),
      }
    : {}),
  ...(values.as ? { as: values.as } : {}),
  timeoutMs: timeoutSeconds * 1000,
}).then((results) => {
  process.stdout.write(values.json ? `${JSON.stringify(results, null, 2)}\n` : `${formatTable(results)}\n`);
  process.exitCode = results.some((result) => result.status === 'fail') ? 1 : 0;
});
