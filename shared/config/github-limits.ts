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

/** How many instances share a credential by default: the Knative Service's `max-scale` (knative/service.yaml). */
export const DEFAULT_GITHUB_LIMIT_INSTANCES = 5;

/**
 * Reads each instance's share of GitHub's limits: `GITHUB_LIMIT_INSTANCES` (the instances that may run at once,
 * the Service's max-scale) divides the documented limits into the defaults of `GITHUB_CONCURRENCY`,
 * `GITHUB_POINTS_PER_MINUTE` and, when `GITHUB_CONTENT_LIMIT=on` (GitHub does not say whether a JIT registration
 * is content creation), `GITHUB_CONTENT_PER_MINUTE`. `GITHUB_LIMIT_WINDOW_SECONDS` (60) only compresses time for a
 * simulation. Every problem is pushed onto `problems`.
 */
export function parseGitHubLimits(env: Env, problems: string[]): GitHubLimits {
  const { integer, oneOf } = createEnvReader(env, problems);
  const instances = integer('GITHUB_LIMIT_INSTANCES', DEFAULT_GITHUB_LIMIT_INSTANCES, 1, 1000);
  const share = (limit: number, floor: number) => Math.max(floor, Math.floor(limit / instances));
  const content = oneOf('GITHUB_CONTENT_LIMIT', ['on', 'off'] as const, 'off');
  return {
    concurrency: integer(
      'GITHUB_CONCURRENCY',
      share(GITHUB_DOCUMENTED_LIMITS.concurrency, 1),
      1,
      GITHUB_DOCUMENTED_LIMITS.concurrency,
    ),
    // A POST costs 5 points: fewer than 5 would allow none.
    pointsPerMinute: integer(
      'GITHUB_POINTS_PER_MINUTE',
      share(GITHUB_DOCUMENTED_LIMITS.pointsPerMinute, 5),
      5,
      GITHUB_DOCUMENTED_LIMITS.pointsPerMinute,
    ),
    contentPerMinute:
      content === 'off' && env.GITHUB_CONTENT_PER_MINUTE === undefined
        ? undefined
        : integer(
            'GITHUB_CONTENT_PER_MINUTE',
            share(GITHUB_DOCUMENTED_LIMITS.contentPerMinute, 1),
            1,
            GITHUB_DOCUMENTED_LIMITS.contentPerMinute,
          ),
    windowMs: integer('GITHUB_LIMIT_WINDOW_SECONDS', 60, 1, 60) * 1000,
  };
}
