/**
 * GitHub's documented secondary rate limits, enforced by the GitHub stand-in when asked
 * (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits): per
 * credential (the Authorization header), at most `concurrency` requests in flight, `pointsPerMinute` points per
 * endpoint in any minute (a GET 1, other methods 5), optionally `contentPerMinute` POSTs; a request over a limit is
 * answered 403 with `retry-after` (and `x-ratelimit-remaining` above 0: a secondary limit, not the hourly one), and
 * so is every request of that credential until the retry-after has passed. Every refused request is a violation,
 * counted. Minutes are compressed by `timeFactor` (6: a minute lasts 10 s, a 60 s retry-after 10 s).
 */
import type { JsonResponse } from './http-server.js';

export interface StandInLimits {
  readonly concurrency: number;
  readonly pointsPerMinute: number;
  readonly contentPerMinute?: number | undefined;
  /** How many times faster than real time the stand-in's minutes pass. */
  readonly timeFactor: number;
}

/** A request GitHub would have refused: which limit, on which endpoint, when (ms since epoch). */
export interface LimitViolation {
  readonly at: number;
  readonly kind: 'concurrency' | 'points' | 'content' | 'during retry-after';
  readonly endpoint: string;
}

export interface StandInLimiter {
  readonly violations: LimitViolation[];
  /** Admits a request (counted in flight until `done`), or answers GitHub's 403 with retry-after. */
  admit(credential: string, method: string, endpoint: string): JsonResponse | undefined;
  done(credential: string): void;
}

export function createStandInLimiter(limits: StandInLimits): StandInLimiter {
  const windowMs = 60_000 / limits.timeFactor;
  const violations: LimitViolation[] = [];
  const inFlight = new Map<string, number>();
  const pausedUntil = new Map<string, number>();
  const points = new Map<string, { at: number; points: number }[]>();
  const content = new Map<string, number[]>();
  const recent = <T extends { at: number } | number>(list: T[], now: number) =>
    list.filter((entry) => (typeof entry === 'number' ? entry : entry.at) > now - windowMs);

  const refuse = (
    credential: string,
    kind: LimitViolation['kind'],
    endpoint: string,
    now: number,
  ): JsonResponse => {
    violations.push({ at: now, kind, endpoint });
    // GitHub: "wait at least one minute" (here, one compressed minute) when it says no more.
    const until = Math.max(pausedUntil.get(credential) ?? 0, now + windowMs);
    pausedUntil.set(credential, until);
    return {
      status: 403,
      body: {
        message: 'You have exceeded a secondary rate limit. Please wait a few minutes before you try again.',
        documentation_url:
          'https://docs.github.com/rest/overview/rate-limits-for-the-rest-api#about-secondary-rate-limits',
        status: '403',
      },
      headers: { 'retry-after': String(Math.max(1, Math.ceil((until - now) / 1000))) },
    };
  };

  return {
    violations,
    admit(credential, method, endpoint) {
      const now = Date.now();
      if ((pausedUntil.get(credential) ?? 0) > now)
        return refuse(credential, 'during retry-after', endpoint, now);
      if ((inFlight.get(credential) ?? 0) >= limits.concurrency)
        return refuse(credential, 'concurrency', endpoint, now);
      const cost = /^(GET|HEAD|OPTIONS)$/i.test(method) ? 1 : 5;
      const key = `${credential}\n${endpoint}`;
      const used = recent(points.get(key) ?? [], now);
      if (used.reduce((sum, entry) => sum + entry.points, 0) + cost > limits.pointsPerMinute) {
        return refuse(credential, 'points', endpoint, now);
      }
      const created = recent(content.get(credential) ?? [], now);
      if (limits.contentPerMinute !== undefined && cost > 1 && created.length >= limits.contentPerMinute) {
        return refuse(credential, 'content', endpoint, now);
      }
      used.push({ at: now, points: cost });
      points.set(key, used);
      if (cost > 1) content.set(credential, [...created, now]);
      inFlight.set(credential, (inFlight.get(credential) ?? 0) + 1);
      return undefined;
    },
    done(credential) {
      inFlight.set(credential, Math.max(0, (inFlight.get(credential) ?? 0) - 1));
    },
  };
}
