import { parseOwnerPairs } from './owner-pairs.js';

/**
 * How the function authenticates to GitHub: fine-grained PATs (one per resource owner, since a fine-grained PAT
 * covers exactly one owner, with `GITHUB_TOKEN` as the fallback), or a GitHub App whose installation tokens serve
 * every account that installs it.
 */
export type GitHubAuth =
  | {
      readonly kind: 'tokens';
      /** Lower-cased owner login -> token. */
      readonly tokens: ReadonlyMap<string, string>;
      readonly fallbackToken: string | undefined;
    }
  | { readonly kind: 'app'; readonly appId: number; readonly privateKey: string };

type Env = Readonly<Record<string, string | undefined>>;

/** Reads the GitHub credentials; adds a line to `problems` for each thing wrong. */
export function parseGitHubAuth(env: Env, problems: string[]): GitHubAuth {
  const value = (name: string) => {
    const text = env[name]?.trim();
    return text === undefined || text === '' ? undefined : text;
  };
  const appId = value('GITHUB_APP_ID');
  const privateKey = value('GITHUB_APP_PRIVATE_KEY');
  if (appId !== undefined || privateKey !== undefined) {
    if (appId === undefined || !/^\d+$/.test(appId))
      problems.push('GITHUB_APP_ID must be the numeric App ID');
    if (privateKey === undefined)
      problems.push('GITHUB_APP_PRIVATE_KEY (or GITHUB_APP_PRIVATE_KEY_FILE) is required with GITHUB_APP_ID');
    // Keys pasted into one-line env values often carry literal "\n".
    const pem = (privateKey ?? '').replace(/\\n/g, '\n');
    if (privateKey !== undefined && !/-----BEGIN (RSA )?PRIVATE KEY-----/.test(pem)) {
      problems.push('GITHUB_APP_PRIVATE_KEY must be the PEM private key downloaded from the App settings');
    }
    return { kind: 'app', appId: Number(appId), privateKey: pem };
  }
  const before = problems.length;
  const tokens = parseTokens(value('GITHUB_TOKENS'), problems);
  const fallbackToken = value('GITHUB_TOKEN');
  // When GITHUB_TOKENS is set but wrong, its own problems say so: "GITHUB_TOKEN is required" would only mislead.
  if (fallbackToken === undefined && tokens.size === 0 && problems.length === before) {
    problems.push(
      value('GITHUB_TOKENS') !== undefined
        ? 'GITHUB_TOKENS holds no owner=token entry; set GITHUB_TOKEN or add an entry'
        : 'GITHUB_TOKEN is required (a fine-grained PAT with Actions and Administration read/write), ' +
            'unless GITHUB_TOKENS or GITHUB_APP_ID and GITHUB_APP_PRIVATE_KEY are set',
    );
  }
  return { kind: 'tokens', tokens, fallbackToken };
}

/** `owner=token` pairs separated by newlines or commas, or a JSON object `{ "owner": "token" }`. */
function parseTokens(text: string | undefined, problems: string[]): Map<string, string> {
  const tokens = new Map<string, string>();
  if (text === undefined) return tokens;
  const pairs = parseOwnerPairs('GITHUB_TOKENS', text, problems);
  if (pairs === undefined) return tokens;
  for (const [index, [owner, token]] of pairs.entries()) {
    if (!/^[A-Za-z0-9-]+$/.test(owner) || typeof token !== 'string' || token === '') {
      // Never echo the entry: a malformed one may be nothing but a token. Name its position only.
      problems.push(`GITHUB_TOKENS entries must be owner=token; entry ${index + 1} is not`);
      continue;
    }
    tokens.set(owner.toLowerCase(), token);
  }
  return tokens;
}
