/**
 * `npm run setup-webhooks -- --url https://HOST/webhook --repo owner/name [--repo owner/other ...]`
 *
 * Creates or updates the `workflow_job` webhook on each repository, so nobody clicks through Settings > Webhooks
 * for each one. The secret comes from WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE), never from the command line where
 * `ps` would show it; tokens from GITHUB_TOKEN / GITHUB_TOKENS as for the function (repository Webhooks: read and
 * write). GITHUB_API_URL selects GitHub Enterprise Server. Prints the hook id of each, for RECONCILE_HOOKS.
 */
import { parseArgs } from 'node:util';
import { parseGitHubAuth } from '../shared/config/github-auth.js';
import { readSecretFiles } from '../shared/config/read-secret-files.js';
import { createTokenCredentials } from '../shared/github/credentials.js';
import { createWebhookInstaller } from '../shared/github/ensure-webhook.js';

const usage = 'usage: npm run setup-webhooks -- --url https://HOST/webhook --repo owner/name [--repo ...]';

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

const { values } = parseArgs({
  options: { url: { type: 'string' }, repo: { type: 'string', multiple: true } },
  strict: true,
});
const env = readSecretFiles(process.env);
const problems: string[] = [];
const auth = parseGitHubAuth(
  { ...env, GITHUB_APP_ID: undefined, GITHUB_APP_PRIVATE_KEY: undefined },
  problems,
);
if (!values.url || !/^https?:\/\//.test(values.url))
  problems.push('--url must be the http(s) URL of the function');
if (!values.repo?.length) problems.push('--repo owner/name is required at least once');
const secret = env.WEBHOOK_SECRET?.trim();
if (!secret)
  problems.push(
    'WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE) is required: the secret GitHub signs deliveries with',
  );
if (problems.length > 0 || auth.kind !== 'tokens' || !values.url || !secret) fail(problems.join('\n'));

const ensure = createWebhookInstaller({
  baseUrl: (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, ''),
  credentials: createTokenCredentials(auth.tokens, auth.fallbackToken),
});
let failed = 0;
for (const fullName of values.repo ?? []) {
  const [owner, repo, extra] = fullName.split('/');
  if (!owner || !repo || extra !== undefined) {
    process.stderr.write(`${fullName}: not owner/name\n`);
    failed += 1;
    continue;
  }
  try {
    const result = await ensure({ owner, repo }, { url: values.url, secret });
    process.stdout.write(`${result.repository}: webhook ${result.action} (hook id ${result.hookId})\n`);
  } catch (error) {
    const status = (error as { status?: number }).status;
    process.stderr.write(
      `${fullName}: failed${status ? ` (HTTP ${status})` : ''}: ${(error as Error).message}\n`,
    );
    failed += 1;
  }
}
process.exitCode = failed === 0 ? 0 : 1;
