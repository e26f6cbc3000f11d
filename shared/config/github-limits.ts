import type { GitHubLimits } from '../github/credential-budget.js';
import { createEnvReader, type Env } from './env-reader.js';

/**
 * GitHub's documented secondary rate limits, per credential, for the whole deployment
 * (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits).
 */
export const GITHUB_DOCUMENTED_LIMITS = Object.freeze({
  concurrency: 100,
  pointsPerMinute: 900,
  contentPerMinute: 80,
});

/**
 * Reads a credential's limits for the whole fleet, which every process shares through the ledger
 * (`credential-budget.ts`): `GITHUB_CONCURRENCY`, `GITHUB_POINTS_PER_MINUTE` and, when `GITHUB_CONTENT_LIMIT=on`
 * (GitHub does not say whether a JIT registration is content creation), `GITHUB_CONTENT_PER_MINUTE`, each GitHub's
 * documented limit by default (lower them when other tools share the credential). `GITHUB_LIMIT_INSTANCES`, unset
 * by default, caps what one process holds at once to that fraction of each. `GITHUB_LIMIT_WINDOW_SECONDS` (60) only
 * compresses time for a simulation. Every problem is pushed onto `problems`.
 */
export function parseGitHubLimits(env: Env, problems: string[]): GitHubLimits {
  const { integer, oneOf } = createEnvReader(env, problems);
  const instances =
    env.GITHUB_LIMIT_INSTANCES === undefined ? undefined : integer('GITHUB_LIMIT_INSTANCES', 1, 1, 1000);
  const content = oneOf('GITHUB_CONTENT_LIMIT', ['on', 'off'] as const, 'off');
  return {
    concurrency: integer(
      'GITHUB_CONCURRENCY',
      GITHUB_DOCUMENTED_LIMITS.concurrency,
      1,
      GITHUB_DOCUMENTED_LIMITS.concurrency,
    ),
    // A POST costs 5 points: fewer than 5 would allow none.
    pointsPerMinute: integer(
      'GITHUB_POINTS_PER_MINUTE',
      GITHUB_DOCUMENTED_LIMITS.pointsPerMinute,
      5,
      GITHUB_DOCUMENTED_LIMITS.pointsPerMinute,
    ),
    contentPerMinute:
      content === 'off' && env.GITHUB_CONTENT_PER_MINUTE === undefined
        ? undefined
        : integer(
            'GITHUB_CONTENT_PER_MINUTE',
            GITHUB_DOCUMENTED_LIMITS.contentPerMinute,
            1,
            GITHUB_DOCUMENTED_LIMITS.contentPerMinute,
          ),
    windowMs: integer('GITHUB_LIMIT_WINDOW_SECONDS', 60, 1, 60) * 1000,
    ...(instances !== undefined && instances > 1 ? { share: 1 / instances } : {}),
  };
}
