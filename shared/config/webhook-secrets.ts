import { OWNER_LOGIN } from '../webhook/parse-workflow-job.js';
import { parseOwnerPairs } from './owner-pairs.js';

/**
 * The secrets deliveries are signed with. One shared secret for every owner lets any tenant who sets up a hook of
 * their own sign deliveries for every other tenant; so an owner may have secrets of its own (`WEBHOOK_SECRETS`),
 * and an owner that has them is never accepted under the shared one. Each list holds the current secret first and,
 * during a rotation, the previous one after it: both are accepted until the rotation is finished.
 */
export interface WebhookSecrets {
  /** `WEBHOOK_SECRET`, then `WEBHOOK_SECRET_PREVIOUS`: for every owner without secrets of its own. */
  readonly shared: readonly string[];
  /** Lower-cased owner login -> its own secrets, the current one first. */
  readonly owners: ReadonlyMap<string, readonly string[]>;
}

type Env = Readonly<Record<string, string | undefined>>;

/**
 * Reads `WEBHOOK_SECRET`, `WEBHOOK_SECRET_PREVIOUS` and `WEBHOOK_SECRETS`; adds a line to `problems` for each
 * thing wrong, never echoing a value (a malformed entry may be nothing but a secret). `WEBHOOK_SECRETS` is
 * `owner=secret` lines (or commas), an owner listed twice during a rotation (new first), or JSON
 * `{"owner": "secret"}` / `{"owner": ["new", "old"]}`.
 */
export function parseWebhookSecrets(env: Env, problems: string[], appMode = false): WebhookSecrets {
  const value = (name: string) => {
    const text = env[name]?.trim();
    return text === undefined || text === '' ? undefined : text;
  };
  const shared = [value('WEBHOOK_SECRET'), value('WEBHOOK_SECRET_PREVIOUS')].filter(
    (secret): secret is string => secret !== undefined,
  );
  const owners = parseOwnerSecrets(value('WEBHOOK_SECRETS'), problems);
  if (value('WEBHOOK_SECRET') === undefined) {
    if (value('WEBHOOK_SECRET_PREVIOUS') !== undefined) {
      problems.push('WEBHOOK_SECRET_PREVIOUS needs WEBHOOK_SECRET: the new secret of the rotation');
    }
    if (owners.size === 0) {
      problems.push(
        'WEBHOOK_SECRET is required (the secret set on the GitHub webhook), unless WEBHOOK_SECRETS is set',
      );
    }
  }
  // An App has one webhook, with one secret, for every installation: per-owner secrets cannot apply.
  if (appMode && owners.size > 0) {
    problems.push(
      'WEBHOOK_SECRETS does not apply in GitHub App mode: the App webhook has one secret, WEBHOOK_SECRET',
    );
  }
  return { shared, owners };
}

/** The secrets as they may be logged: how many, and for which owners, each shown as `***`. */
export function redactWebhookSecrets(secrets: WebhookSecrets): Record<string, unknown> {
  return {
    shared: secrets.shared.map(() => '***'),
    owners: Object.fromEntries([...secrets.owners].map(([owner, list]) => [owner, list.map(() => '***')])),
  };
}

/**
 * The secrets a delivery naming `owner` may be signed with: the owner's own when it has any, else the shared ones
 * (none when only per-owner secrets are configured).
 */
export function secretsFor(secrets: WebhookSecrets, owner: string | undefined): readonly string[] {
  const own = owner === undefined ? undefined : secrets.owners.get(owner.toLowerCase());
  return own ?? secrets.shared;
}

function parseOwnerSecrets(text: string | undefined, problems: string[]): Map<string, string[]> {
  const owners = new Map<string, string[]>();
  if (text === undefined) return owners;
  const pairs = parseOwnerPairs('WEBHOOK_SECRETS', text, problems, { lists: true });
  if (pairs === undefined) return owners;
  for (const [index, [owner, secret]] of pairs.entries()) {
    if (!OWNER_LOGIN.test(owner) || typeof secret !== 'string' || secret === '') {
      problems.push(`WEBHOOK_SECRETS entries must be owner=secret; entry ${index + 1} is not`);
      continue;
    }
    const list = owners.get(owner.toLowerCase()) ?? [];
    list.push(secret);
    owners.set(owner.toLowerCase(), list);
  }
  for (const [owner, list] of owners) {
    if (list.length > 2) {
      problems.push(
        `WEBHOOK_SECRETS has ${list.length} secrets for ${owner}: at most two (new, then previous)`,
      );
    }
  }
  return owners;
}
