/**
 * What each GitHub credential may still do, in this instance and across the cluster. Longer than 250 lines on
 * purpose: GitHub's limits, our share of them and how an answer asks to wait are one contract, checked in one place. GitHub's secondary rate limits
 * (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits):
 * no more than 100 concurrent requests; no more than 900 points a minute per REST endpoint, where a GET, HEAD or
 * OPTIONS costs 1 and other methods 5; content creation around 80 a minute; and when exceeded, a 403 or 429 with
 * `retry-after` (or `x-ratelimit-remaining: 0` and `x-ratelimit-reset`) before which nothing may be retried.
 *
 * Each instance keeps to its share of those limits (the documented limit divided by the instances there may be, see
 * `GitHubLimits`), counted over a sliding window so that no minute, wherever it starts, holds more (a call counts
 * from its sending until a window after its answer, so however late GitHub received it); and a pause
 * GitHub asks for is written where every instance reads it before calling (`PauseStore`, a Lease per credential).
 */
import { GitHubLimitError } from '../errors/errors.js';
import type { Deadline } from '../retry/with-retries.js';

/** One instance's share of GitHub's limits, per credential. */
export interface GitHubLimits {
  /** Most calls in flight at once. */
  readonly concurrency: number;
  /** Most points per endpoint (route template) per window: a GET costs 1, other methods 5. */
  readonly pointsPerMinute: number;
  /** Most content-creating calls (POSTs) per window across endpoints; undefined: not counted. */
  readonly contentPerMinute: number | undefined;
  /** The window the limits are counted over: a minute (shorter only to compress time in a simulation). */
  readonly windowMs: number;
}

/** Where a credential's pause is kept for every instance to read (a Lease per credential in production). */
export interface PauseStore {
  /** Until when (ms since epoch) the credential is paused, if a pause was written. */
  read(credential: string): Promise<number | undefined>;
  /** Writes that the credential is paused until `until` (a later pause already written is kept). */
  write(credential: string, until: number): Promise<void>;
}

/** A credential's budget as it stands, for `doctor` and metrics. */
export interface CredentialStatus {
  readonly credential: string;
  /** When GitHub allows calls again, if it asked to wait (ms since epoch). */
  readonly pausedUntil: number | undefined;
  readonly inFlight: number;
  readonly concurrency: number;
  /** Points used in the current window by endpoint, and the limit of each. */
  readonly endpoints: readonly { endpoint: string; points: number; limit: number }[];
  readonly content: { readonly used: number; readonly limit: number } | undefined;
}

export interface CredentialBudget {
  readonly limits: GitHubLimits;
  /**
   * Takes the budget of one call of `route` (`GET /repos/{owner}/{repo}/...`): waits for a concurrency slot until
   * shortly before the deadline, and never waits for points. Returns the function to call once the answer came
   * back, or the call was given up without one (`answered` false: a timeout, a network failure): it gives the slot
   * back, and the call's points count from then for a window, and longer for a call given up (see ABANDONED_MS).
   * Throws GitHubLimitError when the credential is paused, its points are spent, or no slot frees in time.
   */
  acquire(credential: string, route: string, deadline: Deadline): Promise<(answered?: boolean) => void>;
  /** Why calls of `routes` cannot be made now (paused, or points spent), without taking anything. */
  blocked(credential: string, routes: readonly string[]): Promise<GitHubLimitError | undefined>;
  /** GitHub asked to wait until `until`: no call of this credential before then, here and (written) everywhere. */
  pause(credential: string, until: number): Promise<void>;
  status(credential: string): CredentialStatus;
  /** Every credential this instance has called with. */
  credentials(): string[];
  /** When a call or a check was last refused for any credential (ms since epoch; 0: never): a backlog is likely. */
  lastRefusal(): number;
}

export interface CredentialBudgetOptions {
  readonly pauses?: PauseStore;
  /** Told when the pause store cannot be read or written (calls go on on this instance's own knowledge). */
  readonly onStoreError?: (error: unknown) => void;
  readonly now?: () => number;
  /**
   * How long a pause read is trusted (default: a second of a minute, `windowMs / 60`): a burst makes hundreds of
   * calls a second, and one read of the Lease serves them all. A pause this instance was told of itself applies at
   * once; one written by another instance is seen within this time.
   */
  readonly pauseReadMs?: number;
}

/** Points a call costs: GET, HEAD and OPTIONS 1, every other method 5 (GitHub's table). */
export function pointsOf(route: string): number {
  return /^(GET|HEAD|OPTIONS) /i.test(route) ? 1 : 5;
}

/** Leave this much of a deadline to the call itself; a slot that frees later is not waited for. */
const CALL_MARGIN_MS = 1500;

/**
 * A call with less of its deadline left is not sent: its answer would likely come too late. The points are spent all
 * the same, a registration whose answer is lost is one no pod uses (the next start deletes it and registers again),
 * and a call given up here may still reach GitHub after this budget stopped counting it from its answer. Below the
 * second a reconcile pass keeps when it begins its last action, so that action still gets its calls.
 */
const MIN_CALL_MS = 500;

/**
 * How much later than its giving up a call given up without an answer may still be counted by GitHub. GitHub ends a
 * request it has not answered in 10 s ("Troubleshooting the REST API", Timeouts), so one it receives later than
 * that is not one it will process; such a call counts that much longer. In the simulation, calls given up at our
 * 5 s timeout while the stand-in was slow were received up to 2 s later, and one registration so received made
 * GitHub's window hold one call more than ours.
 */
const ABANDONED_MS = 10_000;

/** Builds the budgets of one instance: one per credential, made on first use. */
export function createCredentialBudget(
  limits: GitHubLimits,
  options: CredentialBudgetOptions = {},
): CredentialBudget {
  const now = options.now ?? Date.now;
  /**
   * A call in the window: counted from when it leaves here until a window after its answer came back. GitHub counts
   * it from its arrival, which lies between the two however late a loaded machine or network delivers it; counted
   * from its sending alone, a call GitHub received a second late left our window a second before GitHub's, and the
   * next one made GitHub's window hold one too many (a 1,000-job burst with a 1 s stall met the limit).
   */
  interface Call {
    /** When it left; once answered, when its answer came back. */
    at: number;
    readonly points: number;
    answered: boolean;
  }
  interface State {
    inFlight: number;
    pausedUntil: number;
    /** Calls in the window by endpoint. */
    calls: Map<string, Call[]>;
    /** Content-creating calls in the window, across endpoints. */
    content: Call[];
    waiters: (() => void)[];
    reading: Promise<number | undefined> | undefined;
    readAt: number;
  }
  const states = new Map<string, State>();
  const stateOf = (credential: string): State => {
    let state = states.get(credential);
    if (state === undefined) {
      state = {
        inFlight: 0,
        pausedUntil: 0,
        calls: new Map(),
        content: [],
        waiters: [],
        reading: undefined,
        readAt: 0,
      };
      states.set(credential, state);
    }
    return state;
  };
  const windowMs = limits.windowMs;
  /** Calls still in the window at `at`: unanswered ones, and answered ones until a window after their answer. */
  const inWindow = (calls: Call[], at: number) =>
    calls.filter((call) => !call.answered || call.at > at - windowMs);
  const windowOf = (state: State, route: string, at: number) => {
    const kept = inWindow(state.calls.get(route) ?? [], at);
    state.calls.set(route, kept);
    return kept;
  };
  /** When each call leaves the window, soonest first: an unanswered one a window after now at the soonest. */
  const leaving = (calls: Call[], at: number) =>
    calls
      .map((call) => ({ points: call.points, until: (call.answered ? call.at : at) + windowMs }))
      .sort((a, b) => a.until - b.until);
  /** Until when points (or content calls) for `route` are spent, or undefined if the call fits now. */
  const spentUntil = (state: State, route: string, at: number): number | undefined => {
    const calls = windowOf(state, route, at);
    const cost = pointsOf(route);
    let used = calls.reduce((sum, call) => sum + call.points, 0);
    let until: number | undefined;
    // The soonest to leave free their points first: find when enough have left for this call.
    for (const call of leaving(calls, at)) {
      if (used + cost <= limits.pointsPerMinute) break;
      used -= call.points;
      until = call.until;
    }
    // A call dearer than the whole window's points never fits; wait a window and say so.
    if (cost > limits.pointsPerMinute) until = at + limits.windowMs;
    if (limits.contentPerMinute !== undefined && cost > 1) {
      state.content = inWindow(state.content, at);
      if (state.content.length >= limits.contentPerMinute) {
        const soonest = leaving(state.content, at);
        const contentUntil = soonest[state.content.length - limits.contentPerMinute]?.until ?? at + windowMs;
        until = Math.max(until ?? 0, contentUntil);
      }
    }
    return until;
  };
  /** The credential's pause: this instance's, else the cluster's (one read in flight per credential). */
  const pausedUntil = async (credential: string, state: State, cacheMs: number): Promise<number> => {
    if (state.pausedUntil > now() || options.pauses === undefined) return state.pausedUntil;
    if (now() - state.readAt < cacheMs) return state.pausedUntil;
    state.readAt = now();
    state.reading ??= options.pauses
      .read(credential)
      .catch((error: unknown) => {
        options.onStoreError?.(error);
        return undefined;
      })
      .finally(() => {
        state.reading = undefined;
      });
    const written = await state.reading;
    if (written !== undefined && written > state.pausedUntil) state.pausedUntil = written;
    return state.pausedUntil;
  };
  const pauseReadMs = options.pauseReadMs ?? limits.windowMs / 60;
  let lastRefusal = 0;
  const refused = <T>(error: T): T => {
    lastRefusal = now();
    return error;
  };
  const pausedError = (until: number) =>
    new GitHubLimitError(
      `GitHub asked to wait: the credential is paused for ${Math.ceil((until - now()) / 1000)} s more`,
      until,
      undefined,
    );
  const spentError = (route: string, until: number) =>
    new GitHubLimitError(
      `this instance's GitHub budget for ${route} is spent for ${Math.ceil((until - now()) / 1000)} s`,
      until,
      undefined,
    );

  return {
    limits,
    async acquire(credential, route, deadline) {
      const state = stateOf(credential);
      for (;;) {
        const paused = await pausedUntil(credential, state, pauseReadMs);
        if (paused > now()) throw refused(pausedError(paused));
        const spent = spentUntil(state, route, now());
        if (spent !== undefined) throw refused(spentError(route, spent));
        if (state.inFlight < limits.concurrency) {
          // Deadlines are wall-clock times (`deadlineIn`), whatever clock counts the window.
          if (deadline.at - Date.now() < MIN_CALL_MS) {
            throw refused(
              new GitHubLimitError(
                `too little time is left to call GitHub and get its answer (${MIN_CALL_MS} ms needed)`,
                now(),
                undefined,
              ),
            );
          }
          break;
        }
        const waitMs = deadline.at - CALL_MARGIN_MS - Date.now();
        if (waitMs <= 0) {
          throw refused(
            new GitHubLimitError(
              `this instance already has ${limits.concurrency} GitHub calls in flight for the credential`,
              now() + 1000,
              undefined,
            ),
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(() => {
            state.waiters = state.waiters.filter((waiter) => waiter !== wake);
            resolve();
          }, waitMs);
          const wake = () => {
            clearTimeout(timer);
            resolve();
          };
          state.waiters.push(wake);
        });
      }
      const call: Call = { at: now(), points: pointsOf(route), answered: false };
      state.inFlight += 1;
      windowOf(state, route, call.at).push(call);
      if (limits.contentPerMinute !== undefined && call.points > 1) state.content.push(call);
      return (answered = true) => {
        if (call.answered) return;
        // GitHub received the call before it answered: counted from here for a whole window, it is counted no
        // shorter than GitHub counts it. One given up may still be on its way.
        call.answered = true;
        call.at = Math.max(call.at, now() + (answered ? 0 : ABANDONED_MS));
        state.inFlight -= 1;
        state.waiters.shift()?.();
      };
    },
    async blocked(credential, routes) {
      const state = stateOf(credential);
      const paused = await pausedUntil(credential, state, pauseReadMs);
      if (paused > now()) return refused(pausedError(paused));
      for (const route of routes) {
        const spent = spentUntil(state, route, now());
        if (spent !== undefined) return refused(spentError(route, spent));
      }
      return undefined;
    },
    async pause(credential, until) {
      const state = stateOf(credential);
      state.pausedUntil = Math.max(state.pausedUntil, until);
      await options.pauses?.write(credential, until).catch((error: unknown) => options.onStoreError?.(error));
    },
    status(credential) {
      const state = stateOf(credential);
      const at = now();
      return {
        credential,
        pausedUntil: state.pausedUntil > at ? state.pausedUntil : undefined,
        inFlight: state.inFlight,
        concurrency: limits.concurrency,
        endpoints: [...state.calls.keys()].map((endpoint) => ({
          endpoint,
          points: windowOf(state, endpoint, at).reduce((sum, call) => sum + call.points, 0),
          limit: limits.pointsPerMinute,
        })),
        content:
          limits.contentPerMinute === undefined
            ? undefined
            : {
                used: inWindow(state.content, at).length,
                limit: limits.contentPerMinute,
              },
      };
    },
    credentials: () => [...states.keys()],
    lastRefusal: () => lastRefusal,
  };
}

/**
 * When GitHub's answer asks to wait, until when (ms since epoch); undefined for any other answer. A 403 or 429 with
 * `retry-after` (seconds or an HTTP date), or with `x-ratelimit-remaining: 0` (until `x-ratelimit-reset`); without
 * either, a 429 or a 403 whose message names a secondary rate limit waits `fallbackMs` (GitHub: "at least one
 * minute"). https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
 */
export function limitAnswer(
  status: number | undefined,
  headers: Record<string, unknown>,
  message: string,
  at: number,
  fallbackMs = 60_000,
): number | undefined {
  if (status !== 403 && status !== 429) return undefined;
  const retryAfter = headers['retry-after'];
  if (typeof retryAfter === 'string' && retryAfter.trim() !== '') {
    const seconds = Number(retryAfter);
    if (Number.isFinite(seconds) && seconds >= 0) return at + seconds * 1000;
    const date = Date.parse(retryAfter);
    if (Number.isFinite(date)) return Math.max(at, date);
  }
  const reset = Number(headers['x-ratelimit-reset']);
  if (headers['x-ratelimit-remaining'] === '0' && Number.isFinite(reset)) return Math.max(at, reset * 1000);
  if (status === 429 || /secondary rate limit|abuse/i.test(message)) return at + fallbackMs;
  return undefined;
}
