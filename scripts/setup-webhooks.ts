/**
 * `npm run setup-webhooks -- --url https://HOST/webhook --repo owner/name [--repo owner/other ...]`
 *
 * Creates or updates the `workflow_job` webhook on each repository, so nobody clicks through Settings > Webhooks
 * for each one. Each repository gets its owner's secret from WEBHOOK_SECRETS (the first listed: the new one of a
 * rotation), else WEBHOOK_SECRET (or the `_FILE` variants), never from the command line where `ps` would show it;
 * tokens from GITHUB_TOKEN / GITHUB_TOKENS as for the function (repository Webhooks: read and write).
 * GITHUB_API_URL selects GitHub Enterprise Server. Prints the hook id of each, for RECONCILE_HOOKS.
 */
import { parseArgs } from 'node:util';
import { parseGitHubAuth } from '../shared/config/github-auth.js';
import { readSecretFiles } from '../shared/config/read-secret-files.js';
import { parseWebhookSecrets, secretsFor } from '../shared/config/webhook-secrets.js';
import { createTokenCredentials } from '../shared/github/credentials.js';
import { createWebhookInstaller } from '../shared/github/webhook-installer.js';

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
const secretProblems: string[] = [];
const secrets = parseWebhookSecrets(env, secretProblems);
if (secretProblems.length > 0) {
  problems.push(
    ...secretProblems,
    'WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE) is required, or WEBHOOK_SECRETS: the secrets GitHub signs deliveries with',
  );
}
if (problems.length > 0 || auth.kind !== 'tokens' || !values.url) fail(problems.join('\n'));

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
  // The current secret of the owner's own (the first listed), else the shared one: what the function verifies with.
  const secret = secretsFor(secrets, owner)[0];
  if (secret === undefined) {
    process.stderr.write(`${fullName}: no secret for ${owner}: add ${owner}=<secret> to WEBHOOK_SECRETS\n`);
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
