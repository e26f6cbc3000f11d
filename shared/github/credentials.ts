import type { GitHubAuth } from '../config/github-auth.js';
import { NoCredentialError } from '../errors/errors.js';

/** A token to call GitHub with, and a name for it that is safe for logs and metric labels. */
export interface GitHubCredential {
  readonly token: string;
  /** `pat:<owner>`, `pat:default`, `app-installation:<id>` or `app`; never the token. */
  readonly label: string;
  /** How it is sent: `token <t>` (PATs, installation tokens) or `Bearer <jwt>` (the App itself). */
  readonly scheme?: 'token' | 'bearer';
}

/** Whose resources a call touches: the owner, and in App mode the installation (or a repository to find it). */
export interface CredentialTarget {
  readonly owner: string;
  readonly repo?: string | undefined;
  readonly installationId?: number | undefined;
}

export interface CredentialProvider {
  /** The credential for the target; throws NoCredentialError when this deployment has none. */
  credentialFor(target: CredentialTarget): Promise<GitHubCredential>;
  /** In App mode, the App's own JWT (for `/app/...` endpoints such as its webhook's deliveries). */
  appCredential?(): Promise<GitHubCredential>;
}

/** Fine-grained PATs, one per owner, with an optional fallback for every other owner. */
export function createTokenCredentials(
  tokens: ReadonlyMap<string, string>,
  fallback?: string,
): CredentialProvider {
  return {
    async credentialFor({ owner }) {
      const token = tokens.get(owner.toLowerCase());
      if (token !== undefined) return { token, label: `pat:${owner.toLowerCase()}` };
      if (fallback !== undefined) return { token: fallback, label: 'pat:default' };
      throw new NoCredentialError(
        `no GitHub token for owner ${owner}: add ${owner}=<token> to GITHUB_TOKENS`,
      );
    },
  };
}

/**
 * A GitHub App: installation tokens for the delivery's installation, minted with a JWT signed by the App's key and
 * cached by `@octokit/auth-app` until shortly before they expire. Without an installation id (reconcile works from
 * records and hooks), the installation is looked up from the repository and remembered.
 */
export function createAppCredentials(options: {
  appId: number;
  privateKey: string;
  baseUrl: string;
  fetch?: typeof fetch;
}): CredentialProvider {
  // Loaded on first use: `@octokit/auth-app` and `@octokit/request` are a good part of the bundle, and a deployment
  // with tokens never needs them; imported dynamically, the bundle evaluates them only in App mode (cold start).
  const loaded = Promise.all([import('@octokit/auth-app'), import('./github-request.js')]).then(
    ([{ createAppAuth }, { githubRequest }]) => {
      const request = githubRequest(options.baseUrl, options.fetch);
      return {
        request,
        auth: createAppAuth({ appId: options.appId, privateKey: options.privateKey, request }),
      };
    },
  );
  const auth = async (
    parameters: { type: 'app' } | { type: 'installation'; installationId: number },
  ): Promise<{ token: string }> => {
    const { auth: appAuth } = await loaded;
    return parameters.type === 'app' ? appAuth(parameters) : appAuth(parameters);
  };
  const installations = new Map<string, number>();

  async function installationOf(owner: string, repo: string | undefined): Promise<number> {
    const key = `${owner}/${repo ?? ''}`.toLowerCase();
    const known = installations.get(key);
    if (known !== undefined) return known;
    if (repo === undefined) throw new NoCredentialError(`no App installation known for owner ${owner}`);
    const { token } = await auth({ type: 'app' });
    try {
      const { request } = await loaded;
      const { data } = await request('GET /repos/{owner}/{repo}/installation', {
        owner,
        repo,
        headers: { authorization: `bearer ${token}` },
      });
      installations.set(key, data.id);
      return data.id;
    } catch (error) {
      if ((error as { status?: number }).status === 404) {
        throw new NoCredentialError(`the GitHub App is not installed on ${owner}/${repo}`);
      }
      throw error;
    }
  }

  return {
    async appCredential() {
      const { token } = await auth({ type: 'app' });
      return { token, label: 'app', scheme: 'bearer' };
    },
    async credentialFor({ owner, repo, installationId }) {
      const id = installationId ?? (await installationOf(owner, repo));
      try {
        const { token } = await auth({ type: 'installation', installationId: id });
        return { token, label: `app-installation:${id}` };
      } catch (error) {
        const status = (error as { status?: number }).status;
        if (status === 404 || status === 401 || status === 403) {
          throw new NoCredentialError(`the GitHub App has no usable installation ${id} (HTTP ${status})`);
        }
        throw error;
      }
    },
  };
}

/** The provider the configuration asks for. */
export function createCredentials(
  auth: GitHubAuth,
  baseUrl: string,
  fetchImpl?: typeof fetch,
): CredentialProvider {
  if (auth.kind === 'app') {
    return createAppCredentials({
      appId: auth.appId,
      privateKey: auth.privateKey,
      baseUrl,
      ...(fetchImpl ? { fetch: fetchImpl } : {}),
    });
  }
  return createTokenCredentials(auth.tokens, auth.fallbackToken);
}
