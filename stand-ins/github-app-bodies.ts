/**
 * What GitHub answers a GitHub App about itself and its installations, for the GitHub stand-in: bodies that
 * satisfy GitHub's published schemas (`installation`, `integration`, `webhook-config`).
 */

/** The permissions an installation has when a test does not say (not enforced then). */
export const DEFAULT_PERMISSIONS = { actions: 'write', administration: 'write', metadata: 'read' } as const;

/** The App's own paths answered by `appSelfBody`. */
export const APP_SELF_PATHS = ['/app', '/app/installations', '/app/hook/config'];

interface AppShape {
  readonly appId: number;
  readonly installations: readonly InstallationShape[];
  readonly hook?: { readonly url: string; readonly contentType?: string; readonly secret?: boolean };
  readonly events?: readonly string[];
}
interface InstallationShape {
  readonly id: number;
  readonly account: string;
  readonly repositories?: readonly string[];
  readonly permissions?: Readonly<Record<string, string>>;
}

/** `GET /app`, `GET /app/installations` or `GET /app/hook/config`, for an App whose JWT was verified. */
export function appSelfBody(app: AppShape, path: string): unknown {
  if (path === '/app/installations') return app.installations.map((item) => installationBody(app, item));
  if (path === '/app/hook/config') {
    const hook = app.hook ?? { url: 'https://runners.example/webhook' };
    return {
      url: hook.url,
      content_type: hook.contentType ?? 'json',
      insecure_ssl: '0',
      // GitHub never returns the secret, only that one is set.
      ...(hook.secret === false ? {} : { secret: '********' }),
    };
  }
  const now = '2026-01-01T00:00:00Z';
  return {
    id: app.appId,
    slug: 'kube-actions-runner',
    node_id: `A_${app.appId}`,
    owner: simpleUser('app-owner', 1),
    name: 'kube-actions-runner',
    description: null,
    external_url: 'https://runners.example',
    html_url: 'https://github.com/apps/kube-actions-runner',
    created_at: now,
    updated_at: now,
    permissions: DEFAULT_PERMISSIONS,
    events: app.events ?? ['workflow_job'],
  };
}

/** An installation as `GET /repos/{owner}/{repo}/installation` and `GET /app/installations` answer it. */
export function installationBody(app: AppShape, installation: InstallationShape) {
  const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  return {
    id: installation.id,
    // GitHub's description of `GET /app/installations` gives the account as allOf simple-user and enterprise (the
    // single installation's, anyOf): an account with both shapes' required fields satisfies either.
    account: {
      ...simpleUser(installation.account, 1),
      name: installation.account,
      slug: installation.account.toLowerCase(),
      created_at: now,
      updated_at: now,
    },
    repository_selection: installation.repositories === undefined ? 'all' : 'selected',
    access_tokens_url: `https://api.github.com/app/installations/${installation.id}/access_tokens`,
    repositories_url: 'https://api.github.com/installation/repositories',
    html_url: `https://github.com/settings/installations/${installation.id}`,
    app_id: app.appId,
    app_slug: 'kube-actions-runner',
    target_id: 1,
    target_type: 'User',
    permissions: installation.permissions ?? DEFAULT_PERMISSIONS,
    events: ['workflow_job'],
    created_at: now,
    updated_at: now,
    single_file_name: null,
    suspended_by: null,
    suspended_at: null,
  };
}

/** A user as GitHub's `simple-user` schema has it, every URL a URL. */
function simpleUser(login: string, id: number) {
  const url = `https://api.github.com/users/${login}`;
  return {
    login,
    id,
    node_id: `U_${id}`,
    avatar_url: `https://avatars.githubusercontent.com/u/${id}`,
    gravatar_id: '',
    url,
    html_url: `https://github.com/${login}`,
    followers_url: `${url}/followers`,
    following_url: `${url}/following{/other_user}`,
    gists_url: `${url}/gists{/gist_id}`,
    starred_url: `${url}/starred{/owner}{/repo}`,
    subscriptions_url: `${url}/subscriptions`,
    organizations_url: `${url}/orgs`,
    repos_url: `${url}/repos`,
    events_url: `${url}/events{/privacy}`,
    received_events_url: `${url}/received_events`,
    type: 'User',
    site_admin: false,
  };
}
