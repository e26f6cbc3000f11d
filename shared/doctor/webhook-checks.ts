import { NoCredentialError } from '../errors/errors.js';
import type { GitHubCredential } from '../github/credentials.js';
import { type Check, type Finding, fail, notRun, pass, warn } from './check.js';
import {
  authorizationOf,
  describeGitHubError,
  type GitHubDoctorContext,
  statusOf,
} from './github-doctor-context.js';

/** A webhook's settings as GitHub answers them (a repository's hook, or the App's). */
interface HookSettings {
  readonly active?: boolean;
  readonly events: readonly string[];
  readonly config: { readonly url?: string; readonly content_type?: string; readonly secret?: string };
}

interface Delivery {
  readonly status_code: number;
  readonly delivered_at: string;
}

/** How far back deliveries are counted. */
const RECENT_MS = 24 * 3600 * 1000;

/**
 * The webhook checks: each hook of RECONCILE_HOOKS, and in App mode the App's own hook: its settings (active,
 * sends `workflow_job`, JSON, a secret), whether its URL answers as the function does, and its recent deliveries.
 */
export function webhookChecks(context: GitHubDoctorContext, now: () => number = Date.now): Check[] {
  const { config } = context;
  const hooks: {
    name: string;
    settings: (signal: AbortSignal) => Promise<HookSettings>;
    deliveries: (signal: AbortSignal) => Promise<Delivery[]>;
  }[] = [];
  for (const hook of config.reconcileHooks) {
    const repository = { owner: hook.owner, repo: hook.repo };
    const headers = async () => ({
      authorization: authorizationOf(await context.credentials.credentialFor(repository)),
    });
    hooks.push({
      name: `${hook.owner}/${hook.repo} hook ${hook.hookId}`,
      settings: async (signal) =>
        (
          await context.request('GET /repos/{owner}/{repo}/hooks/{hook_id}', {
            ...repository,
            hook_id: hook.hookId,
            headers: await headers(),
            request: { signal },
          })
        ).data as HookSettings,
      deliveries: async (signal) =>
        (
          await context.request('GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries', {
            ...repository,
            hook_id: hook.hookId,
            per_page: 100,
            headers: await headers(),
            request: { signal },
          })
        ).data as Delivery[],
    });
  }
  const { appCredential } = context.credentials;
  if (appCredential !== undefined) {
    const headers = async () => ({
      authorization: authorizationOf((await appCredential()) as GitHubCredential),
    });
    hooks.push({
      name: 'App hook',
      async settings(signal) {
        const [{ data: hookConfig }, { data: app }] = await Promise.all([
          context.request('GET /app/hook/config', { headers: await headers(), request: { signal } }),
          context.request('GET /app', { headers: await headers(), request: { signal } }),
        ]);
        // The App's hook has no `active` flag in the API; its events are the App's.
        return { events: app?.events ?? [], config: hookConfig };
      },
      deliveries: async (signal) =>
        (
          await context.request('GET /app/hook/deliveries', {
            per_page: 100,
            headers: await headers(),
            request: { signal },
          })
        ).data as Delivery[],
    });
  }
  if (hooks.length === 0) {
    return [
      {
        group: 'webhooks',
        check: 'hooks to check',
        run: async () =>
          warn(
            'none: RECONCILE_HOOKS is empty',
            'set RECONCILE_HOOKS=owner/repo:hookId,... (npm run setup-webhooks prints each id): reconcile needs it too',
          ),
      },
    ];
  }
  return hooks.flatMap((hook) => {
    let url: string | undefined;
    const settings: Check = {
      group: 'webhooks',
      check: `${hook.name} settings`,
      async run(signal) {
        let found: HookSettings;
        try {
          found = await hook.settings(signal);
        } catch (error) {
          if (error instanceof NoCredentialError) {
            return fail(error.message, 'give the owner a token (GITHUB_TOKENS) or install the App there');
          }
          const status = statusOf(error);
          if (status === 404 || status === 403 || status === 401) {
            return fail(
              `GitHub answers ${describeGitHubError(error)}`,
              'check the hook id in RECONCILE_HOOKS (npm run setup-webhooks prints it) and that the token has Webhooks: read',
            );
          }
          throw new Error(describeGitHubError(error));
        }
        url = found.config.url;
        return judgeSettings(found);
      },
    };
    const answers: Check = {
      group: 'webhooks',
      check: `${hook.name} URL answers`,
      run: (signal) =>
        url === undefined
          ? Promise.resolve(notRun("the hook's URL is not known"))
          : probeUrl(context, url, signal),
    };
    const deliveries: Check = {
      group: 'webhooks',
      check: `${hook.name} recent deliveries`,
      async run(signal) {
        try {
          return judgeDeliveries(await hook.deliveries(signal), now());
        } catch (error) {
          throw new Error(describeGitHubError(error));
        }
      },
    };
    return [settings, answers, deliveries];
  });
}

/** Each thing wrong with a hook's settings, with its fix; every one is a reason deliveries never come or fail. */
export function judgeSettings(hook: HookSettings): Finding {
  const problems: string[] = [];
  const fixes: string[] = [];
  if (hook.active === false) {
    problems.push('inactive');
    fixes.push('tick Active in the hook settings');
  }
  if (!hook.events.includes('workflow_job') && !hook.events.includes('*')) {
    problems.push(`sends ${hook.events.join(', ') || 'no events'}, not workflow_job`);
    fixes.push('select the event "Workflow jobs" (npm run setup-webhooks does)');
  }
  // GitHub's default content type is form: a url-encoded `payload=` field the function cannot read.
  const contentType = hook.config.content_type ?? 'form';
  if (contentType !== 'json') {
    problems.push(`content type ${contentType}`);
    fixes.push('set Content type to application/json');
  }
  if (hook.config.secret === undefined || hook.config.secret === '') {
    problems.push('no secret');
    fixes.push(
      "set the Secret to WEBHOOK_SECRET (or the owner's in WEBHOOK_SECRETS): unsigned deliveries are refused",
    );
  }
  if (problems.length > 0) return fail(problems.join('; '), fixes.join('; '));
  return pass(`active, workflow_job, json, secret set, to ${hook.config.url ?? '?'}`);
}

/**
 * Posts an unsigned, empty delivery to the hook's URL: the function answers 401 before reading a byte of it, so a
 * 401 says the function is there, and anything else says something else is.
 */
async function probeUrl(context: GitHubDoctorContext, url: string, signal: AbortSignal): Promise<Finding> {
  let status: number;
  try {
    const response = await context.fetch(url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-github-event': 'ping',
        'user-agent': 'kube-actions-runner-doctor',
      },
      body: '{}',
      signal,
    });
    await response.arrayBuffer();
    status = response.status;
  } catch (error) {
    return warn(
      `${url} did not answer from here (${(error as Error).message.slice(0, 100)})`,
      'GitHub may still reach it: see the recent deliveries; else check the tunnel or ingress in front of the function',
    );
  }
  if (status === 401) return pass(`${url} refuses an unsigned delivery (401), as the function does`);
  return fail(
    `${url} answers an unsigned delivery with HTTP ${status}, not the function's 401`,
    "point the hook at the function's /webhook (or /) through the tunnel or ingress: something else answers there",
  );
}

/** Counts the recent deliveries that failed, and says what their statuses usually mean. */
export function judgeDeliveries(deliveries: readonly Delivery[], now: number): Finding {
  const recent = deliveries.filter((delivery) => now - Date.parse(delivery.delivered_at) <= RECENT_MS);
  if (recent.length === 0) return pass('none in the last 24 h');
  const failed = recent.filter((delivery) => delivery.status_code < 200 || delivery.status_code >= 300);
  if (failed.length === 0) return pass(`${recent.length} in the last 24 h, none failed`);
  const byStatus = new Map<number, number>();
  for (const delivery of failed)
    byStatus.set(delivery.status_code, (byStatus.get(delivery.status_code) ?? 0) + 1);
  const counts = [...byStatus]
    .map(([status, count]) => `${status === 0 ? 'no answer' : status} x${count}`)
    .join(', ');
  const fixes: string[] = [];
  if (byStatus.has(401)) fixes.push("401: the hook's secret differs from WEBHOOK_SECRET");
  if (byStatus.has(0) || byStatus.has(504) || byStatus.has(503))
    fixes.push('no answer/503/504: the function was unreachable or slow (tunnel, ingress, scale from zero)');
  if (byStatus.has(502))
    fixes.push("502: GitHub or Kubernetes failed: see the function's log lines with the errorId");
  if (byStatus.has(422)) fixes.push('422: no credential for the owner, or GitHub refused the registration');
  fixes.push('reconcile redelivers failed queued deliveries');
  const seen = `${failed.length} of ${recent.length} in the last 24 h failed (${counts})`;
  return failed.length === recent.length ? fail(seen, fixes.join('; ')) : warn(seen, fixes.join('; '));
}
