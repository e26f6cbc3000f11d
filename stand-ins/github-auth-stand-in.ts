/**
 * Authentication as GitHub does it, for the GitHub stand-in: fine-grained PATs that each cover one owner, and
 * GitHub Apps whose installation tokens are minted at `POST /app/installations/{id}/access_tokens` for a JWT
 * signed with the App's private key (RS256, `iss` the App ID, at most 10 minutes long), verified here with the
 * App's public key as GitHub verifies it.
 * https://docs.github.com/en/apps/creating-github-apps/authenticating-with-a-github-app/generating-a-json-web-token-jwt-for-a-github-app
 */
import { createVerify, randomBytes } from 'node:crypto';
import { APP_SELF_PATHS, appSelfBody, DEFAULT_PERMISSIONS, installationBody } from './github-app-bodies.js';
import type { JsonResponse } from './http-server.js';

export interface StandInApp {
  readonly appId: number;
  /** PEM public key of the App's private key. */
  readonly publicKey: string;
  readonly installations: readonly {
    readonly id: number;
    readonly account: string;
    readonly repositories?: readonly string[];
    /** What the installation was granted; unset: actions and administration write, metadata read (not enforced). */
    readonly permissions?: Readonly<Record<string, 'read' | 'write'>>;
  }[];
  /** The App's webhook (`GET /app/hook/config`) and the events it subscribes to (`GET /app`). */
  readonly hook?: { readonly url: string; readonly contentType?: string; readonly secret?: boolean };
  readonly events?: readonly string[];
}

export interface StandInAuthOptions {
  /** A token accepted for every owner (a classic all-powerful token, for simple tests). */
  readonly token?: string;
  /** Fine-grained PATs: token -> the one owner it covers. */
  readonly pats?: Readonly<Record<string, string>>;
  /**
   * What a fine-grained PAT was granted (`administration: 'read'`, ...), checked on every route that needs a
   * permission; a token not listed here may do everything its owner allows.
   */
  readonly patPermissions?: Readonly<Record<string, Readonly<Record<string, 'read' | 'write'>>>>;
  readonly apps?: readonly StandInApp[];
  /** Serve under this path, as GitHub Enterprise Server serves its API under `/api/v3`. */
  readonly pathPrefix?: string;
  /** The version `GET /meta` says under a path prefix (GitHub Enterprise Server's `installed_version`). */
  readonly enterpriseVersion?: string;
  /**
   * Check every request and answer against GitHub's OpenAPI description (default). Benchmarks turn it off, so
   * that the stand-in answers as close to instantly as it can.
   */
  readonly checkContract?: boolean;
}

export type AuthResult = 'ok' | 'bad-credentials' | 'forbidden';

const DOCS = 'https://docs.github.com/rest';
const error = (status: number, message: string): JsonResponse => ({
  status,
  body: { message, documentation_url: DOCS, status: String(status) },
});

export function createStandInAuth(options: StandInAuthOptions) {
  const installationTokens = new Map<
    string,
    {
      owner: string;
      installationId: number;
      expiresAt: number;
      permissions?: Readonly<Record<string, string>>;
    }
  >();
  const minted: number[] = [];

  function verifyJwt(authorization: string | undefined): StandInApp | undefined {
    const jwt = /^Bearer (.+)$/i.exec(authorization ?? '')?.[1];
    const [header, payload, signature] = jwt?.split('.') ?? [];
    if (!header || !payload || !signature) return undefined;
    let claims: { iss?: unknown; iat?: unknown; exp?: unknown };
    try {
      const head = JSON.parse(Buffer.from(header, 'base64url').toString()) as { alg?: string };
      if (head.alg !== 'RS256') return undefined;
      claims = JSON.parse(Buffer.from(payload, 'base64url').toString());
    } catch {
      return undefined;
    }
    const app = options.apps?.find((candidate) => String(candidate.appId) === String(claims.iss));
    if (app === undefined) return undefined;
    const verifier = createVerify('RSA-SHA256');
    verifier.update(`${header}.${payload}`);
    if (!verifier.verify(app.publicKey, Buffer.from(signature, 'base64url'))) return undefined;
    const now = Math.floor(Date.now() / 1000);
    const [iat, exp] = [Number(claims.iat), Number(claims.exp)];
    if (!(exp > now) || !(iat <= now + 60) || exp - iat > 600 + 60) return undefined;
    return app;
  }

  /** `GET /app`, `GET /app/installations`, `GET /app/hook/config`: what an App reads of itself, for its JWT. */
  function appAbout(
    method: string,
    path: string,
    authorization: string | undefined,
  ): { route: string; answer: JsonResponse } | undefined {
    if (method !== 'GET' || !APP_SELF_PATHS.includes(path)) return undefined;
    const app = verifyJwt(authorization);
    if (app === undefined)
      return { route: `get ${path}`, answer: error(401, 'A JSON web token could not be decoded') };
    return { route: `get ${path}`, answer: { status: 200, body: appSelfBody(app, path) } };
  }

  return {
    /** Installation tokens minted so far (their installation ids), to see the cache at work. */
    minted,
    /** The App whose valid JWT the Authorization header carries, if any. */
    appOf: verifyJwt,
    /** Whether the Authorization header may act on the owner's resources. */
    authorize(authorization: string | undefined, owner: string): AuthResult {
      const token = /^(?:token|Bearer) (.+)$/i.exec(authorization ?? '')?.[1];
      if (token === undefined) return 'bad-credentials';
      if (options.token !== undefined && token === options.token) return 'ok';
      const patOwner = options.pats?.[token];
      if (patOwner !== undefined) return patOwner.toLowerCase() === owner.toLowerCase() ? 'ok' : 'forbidden';
      const installation = installationTokens.get(token);
      if (installation !== undefined && installation.expiresAt > Date.now()) {
        return installation.owner.toLowerCase() === owner.toLowerCase() ? 'ok' : 'forbidden';
      }
      return 'bad-credentials';
    },
    /** Whether the credential holds `permission` (`administration=write`; write covers read). */
    permits(authorization: string | undefined, permission: string): boolean {
      const token = /^(?:token|Bearer) (.+)$/i.exec(authorization ?? '')?.[1] ?? '';
      const granted = options.patPermissions?.[token] ?? installationTokens.get(token)?.permissions;
      if (granted === undefined) return true;
      const [name = '', level] = permission.split('=');
      return granted[name] === 'write' || granted[name] === level;
    },
    /** The App endpoints (JWT-authenticated), or undefined for any other path. */
    appRoute(
      method: string,
      path: string,
      authorization: string | undefined,
    ): { route: string; answer: JsonResponse } | undefined {
      const mint = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(path);
      const lookup = /^\/repos\/([^/]+)\/([^/]+)\/installation$/.exec(path);
      const about = appAbout(method, path, authorization);
      if (about !== undefined) return about;
      if (!(method === 'POST' && mint) && !(method === 'GET' && lookup)) return undefined;
      const route = mint
        ? 'post /app/installations/{installation_id}/access_tokens'
        : 'get /repos/{owner}/{repo}/installation';
      const app = verifyJwt(authorization);
      if (app === undefined) {
        return { route, answer: error(401, 'A JSON web token could not be decoded') };
      }
      if (mint) {
        const installation = app.installations.find((candidate) => candidate.id === Number(mint[1]));
        if (installation === undefined) return { route, answer: error(404, 'Not Found') };
        const token = `ghs_${randomBytes(18).toString('base64url')}`;
        const expiresAt = Date.now() + 3600_000;
        installationTokens.set(token, {
          owner: installation.account,
          installationId: installation.id,
          expiresAt,
          ...(installation.permissions ? { permissions: installation.permissions } : {}),
        });
        minted.push(installation.id);
        return {
          route,
          answer: {
            status: 201,
            body: {
              token,
              expires_at: new Date(expiresAt).toISOString().replace(/\.\d+Z$/, 'Z'),
              permissions: installation.permissions ?? DEFAULT_PERMISSIONS,
              repository_selection: 'all',
            },
          },
        };
      }
      const [, owner, repo] = lookup as RegExpExecArray;
      const installation = app.installations.find(
        (candidate) =>
          candidate.account.toLowerCase() === owner?.toLowerCase() &&
          (candidate.repositories === undefined || candidate.repositories.includes(repo ?? '')),
      );
      if (installation === undefined) return { route, answer: error(404, 'Not Found') };
      return { route, answer: { status: 200, body: installationBody(app, installation) } };
    },
  };
}
