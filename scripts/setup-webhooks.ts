/**
 * `npm run setup-webhooks -- --url https://HOST/webhook --repo owner/name [--repo owner/other ...]`
 *
 * Creates or updates the `workflow_job` webhook on each repository, so nobody clicks through Settings > Webhooks
 * for each one. Each repository gets its owner's secret from WEBHOOK_SECRETS (the first listed: the new one of a
 * rotation), else WEBHOOK_SECRET (or the `_FILE` variants), never from the command line where `ps` would show it.
 * Credentials as for the function: GITHUB_TOKEN / GITHUB_TOKENS (fine-grained PATs), or GITHUB_APP_ID and
 * GITHUB_APP_PRIVATE_KEY (the App's installation token of each repository); either needs the repository
 * permission Webhooks: read and write. GITHUB_API_URL selects GitHub Enterprise Server. Prints the hook id of each,
 * for RECONCILE_HOOKS.
 */

import { parseGitHubAuth } from '../shared/config/github-auth.js';
import { ConfigError } from '../shared/config/load-config.js';
import { readSecretFiles } from '../shared/config/read-secret-files.js';
import { parseWebhookSecrets, secretsFor } from '../shared/config/webhook-secrets.js';
import { NoCredentialError } from '../shared/errors/errors.js';
import { createCredentials } from '../shared/github/credentials.js';
import { createWebhookInstaller } from '../shared/github/webhook-installer.js';
import { parseCommandLine } from './command-line.js';

const usage = `usage: npm run setup-webhooks -- --url https://HOST/webhook --repo owner/name [--repo ...]

Creates or updates the workflow_job webhook of each repository (idempotent) and prints its hook id.
Environment: WEBHOOK_SECRET or WEBHOOK_SECRETS (or their _FILE forms) for the hook's secret;
GITHUB_TOKEN / GITHUB_TOKENS, or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY, with the repository
permission Webhooks: read and write; GITHUB_API_URL for GitHub Enterprise Server.`;

function fail(message: string): never {
  process.stderr.write(`${message}\n\n${usage}\n`);
  process.exit(2);
}

const values = parseCommandLine(
  { url: { type: 'string' }, repo: { type: 'string', multiple: true } },
  usage,
  fail,
);

const problems: string[] = [];
let env: Readonly<Record<string, string | undefined>> = process.env;
try {
  env = readSecretFiles(process.env);
} catch (error) {
  problems.push(...(error instanceof ConfigError ? error.problems : [(error as Error).message]));
}
const auth = parseGitHubAuth(env, problems);
if (!values.url || !/^https?:\/\//.test(values.url))
  problems.push('--url must be the http(s) URL of the function');
if (!values.repo?.length) problems.push('--repo owner/name is required at least once');
const secretProblems: string[] = [];
const secrets = parseWebhookSecrets(env, secretProblems, auth.kind === 'app');
if (secretProblems.length > 0) {
  problems.push(
    ...secretProblems,
    'WEBHOOK_SECRET (or WEBHOOK_SECRET_FILE) is required, or WEBHOOK_SECRETS: the secrets GitHub signs deliveries with',
  );
}
if (problems.length > 0 || !values.url) fail(problems.join('\n'));

const baseUrl = (env.GITHUB_API_URL ?? 'https://api.github.com').replace(/\/+$/, '');
const ensure = createWebhookInstaller({ baseUrl, credentials: createCredentials(auth, baseUrl) });
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
    process.stderr.write(`${fullName}: failed: ${whyFailed(error)}\n`);
    failed += 1;
  }
}
process.exitCode = failed === 0 ? 0 : 1;

/** One line on what went wrong: GitHub's status and message, or that GitHub could not be reached at all. */
function whyFailed(error: unknown): string {
  if (error instanceof NoCredentialError) return error.message;
  const { status, response } = error as { status?: number; response?: { data?: { message?: unknown } } };
  // @octokit/request reports a request that got no answer (refused, DNS, TLS, timeout) as status 500 without a
  // response: that is not GitHub's 500.
  if (response === undefined) {
    return `could not reach GitHub at ${baseUrl} (${causeCode(error) ?? (error as Error).message}): check GITHUB_API_URL and the network`;
  }
  const message = typeof response.data?.message === 'string' ? ` ${response.data.message}` : '';
  const hint =
    status === 404 || status === 403
      ? ': the credential cannot see the repository, or lacks the permission Webhooks: read and write'
      : '';
  return `HTTP ${status}${message}${hint}`;
}

/** The system error code (ECONNREFUSED, ENOTFOUND, ...) somewhere down the error's causes. */
function causeCode(error: unknown): string | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 5; depth += 1) {
    const code = (current as NodeJS.ErrnoException).code;
    if (typeof code === 'string' && /^E[A-Z]+$/.test(code)) return code;
    current = current.cause;
  }
  return undefined;
}
