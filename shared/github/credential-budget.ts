/**
 * What each GitHub credential may still do, across the fleet. Longer than 250 lines on purpose: GitHub's limits,
 * how the fleet shares them and how an answer asks to wait are one contract, checked in one place. GitHub's
 * secondary rate limits (https://docs.github.com/en/rest/using-the-rest-api/rate-limits-for-the-rest-api#about-secondary-rate-limits):
 * no more than 100 concurrent requests; no more than 900 points a minute per REST endpoint, where a GET, HEAD or
 * OPTIONS costs 1 and other methods 5; content creation around 80 a minute; and when exceeded, a 403 or 429 with
 * `retry-after` (or `x-ratelimit-remaining: 0` and `x-ratelimit-reset`) before which nothing may be retried.
 *
 * One budget per credential is shared by every process that calls GitHub with it (instances, a reconcile pod): a
 * ledger of grants (`budget-ledger.ts`, a Lease per credential) from which a process takes a block of calls with a
 * write conditional on the ledger's version, sends them, and gives back what it did not use and how long what it
 * used counts (a call counts from its sending until a window after its answer, so however late GitHub received
 * it). A process that cannot reach the ledger sends nothing; one killed holding a block loses it until it expires.
 * A pause GitHub asks for is written where every process reads it before calling (`PauseStore`).
 */
import { GitHubLimitError } from '../errors/errors.js';
import type { Deadline } from '../retry/with-retries.js';
import {
  CLOCK_SKEW_MS,
  createMemoryLedgers,
  type Grant,
  type Ledger,
  type LedgerStore,
  liveGrants,
  type Room,
  roomFor,
} from './budget-ledger.js';

/** GitHub's limits per credential, for the whole fleet. */
export interface GitHubLimits {
  /** Most calls in flight at once. */
  readonly concurrency: number;
  /** Most points per endpoint (route template) per window: a GET costs 1, other methods 5. */
  readonly pointsPerMinute: number;
  /** Most content-creating calls (POSTs) per window across endpoints; undefined: not counted. */
  readonly contentPerMinute: number | undefined;
  /** The window the limits are counted over: a minute (shorter only to compress time in a simulation). */
  readonly windowMs: number;
  /** The most of each limit one process holds at once (`GITHUB_LIMIT_INSTANCES`: 1 / it); default all. */
  readonly share?: number | undefined;
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
  /** Calls this process has in flight. */
  readonly inFlight: number;
  readonly concurrency: number;
  /** Points the fleet holds in the current window by endpoint (as this process last read it), and the limit. */
  readonly endpoints: readonly { endpoint: string; points: number; limit: number }[];
  readonly content: { readonly used: number; readonly limit: number } | undefined;
}

export interface CredentialBudget {
  readonly limits: GitHubLimits;
  /**
   * Takes the budget of one call of `route` (`GET /repos/{owner}/{repo}/...`): from a block this process holds,
   * else from a block it takes from the shared ledger. Waits for a concurrency slot until shortly before the
   * deadline, and never waits for points. Returns the function to call once the answer came back, or the call was
   * given up without one (`answered` false: a timeout, a network failure): the call counts from then for a window,
   * and longer for a call given up (see ABANDONED_MS). A call GitHub refused with a rate-limit answer
   * (`'refused'`) counts only until that answer: GitHub served nothing, and the pause it asked for is what holds
   * the next calls back (charged a window, a 1 s retry-after kept a registration's points a minute). `most`: the
   * most calls of the route this process sends within a block's time (a route called once an hour takes a block of
   * one, not a share of the concurrency it would hold unused). Throws GitHubLimitError when the credential is paused, its
   * points are spent, no slot frees in time, or the ledger cannot be read or written (nothing is sent on a guess).
   */
  acquire(
    credential: string,
    route: string,
    deadline: Deadline,
    most?: number,
  ): Promise<(answered?: boolean | 'refused') => void>;
  /** Why calls of `routes` cannot be made now (paused, or points spent), without taking anything. */
  blocked(credential: string, routes: readonly string[]): Promise<GitHubLimitError | undefined>;
  /** GitHub asked to wait until `until`: no call of this credential before then, here and (written) everywhere. */
  pause(credential: string, until: number): Promise<void>;
  status(credential: string): CredentialStatus;
  /** Every credential this instance has called with. */
  credentials(): string[];
  /** When a call or a check was last refused for any credential (ms since epoch; 0: never): a backlog is likely. */
  lastRefusal(): number;
  /**
   * Gives back at once every block with no call in flight, and writes it: the process is stopping (scaled down, or
   * the reconcile pod done). Without it, what a short-lived process took but did not use stays counted in the
   * ledger until the block expires (85 s), and a few such processes in a row hold the fleet's concurrency.
   */
  release(): Promise<void>;
}

export interface CredentialBudgetOptions {
  readonly pauses?: PauseStore;
  /** Where the fleet's ledgers are kept (a Lease per credential); default: in memory, this process alone. */
  readonly ledgers?: LedgerStore;
  /** This process's name in the ledger; default: random. */
  readonly holder?: string;
  /** Told when the pause or ledger store cannot be read or written. */
  readonly onStoreError?: (error: unknown) => void;
  readonly now?: () => number;
  /**
   * How long a read of the pause or the ledger is trusted (default: a second of a minute, `windowMs / 60`): a
   * backlog checks hundreds of records a second, and one read serves them all. What this process wrote itself
   * applies at once; what another wrote is seen within this time.
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

/**
 * The longest a call may be in flight: above our 5 s request timeout and GitHub's own 10 s. A block is written to
 * count this long past its last sending (and ABANDONED_MS, and a window, more), so that a process killed holding
 * it, or whose give-back is lost, never lets its calls out of the ledger while GitHub may still count them; a
 * process that lives gives back sooner, or writes a longer time for a call still in flight.
 */
const CALL_BOUND_MS = 10_000;

/**
 * A window's points of an endpoint are taken in blocks of about 1/18 of them (10 JIT registrations, 50 GETs), and
 * a block holds at most a fifth of the concurrency (20 calls): at GitHub's full rate about 18 blocks a minute per
 * endpoint, each one write to take it and one to give it back (often the same write as the next block's).
 */
const BLOCKS_PER_WINDOW = 18;
const SLOTS_PER_BLOCK_SHARE = 5;

/** Longest a block is kept for sending (a sixth of the window, at most 5 s); what is left unused is given back. */
const holdMsOf = (windowMs: number) => Math.min(5000, windowMs / 6);

/** Up to this long (times the attempt) a writer waits after a conflict before reading again. */
const CONFLICT_SPREAD_MS = 10;

/**
 * How long a process keeps trying to write the ledger against others' conflicting writes (each read again first)
 * before its calls wait: a burst on five processes makes each lose several races in a row.
 */
const WRITE_MS = 2000;
const WRITE_ATTEMPTS = 40;

/** Builds the budgets of one process: one per credential, made on first use. */
export function createCredentialBudget(
  limits: GitHubLimits,
  options: CredentialBudgetOptions = {},
): CredentialBudget {
  const now = options.now ?? Date.now;
  const ledgers = options.ledgers ?? createMemoryLedgers();
  // A ledger in this process's memory has one clock; processes reading a shared one allow for theirs differing.
  const skewMs = options.ledgers === undefined ? 0 : CLOCK_SKEW_MS;
  const holder = options.holder ?? `p-${Math.random().toString(36).slice(2, 10)}`;
  const windowMs = limits.windowMs;
  const holdMs = holdMsOf(windowMs);
  const readMs = options.pauseReadMs ?? windowMs / 60;
  const mine = limits.share !== undefined && limits.share < 1 ? { holder, share: limits.share } : undefined;
  const blockCalls = (route: string) =>
    Math.max(
      1,
      Math.min(
        Math.ceil(limits.concurrency / SLOTS_PER_BLOCK_SHARE),
        Math.floor(limits.pointsPerMinute / BLOCKS_PER_WINDOW / pointsOf(route)),
      ),
    );
  let grantNumber = 0;

  /** A block of calls this process holds: sent from until `sendBy`, then given back with what its calls used. */
  interface Block {
    grant: Grant;
    readonly sendBy: number;
    used: number;
    /** Of those, refused by GitHub with a rate-limit answer: no points kept for them once given back. */
    refused: number;
    inFlight: number;
    /** The latest answer (or giving up, plus ABANDONED_MS) of its calls: they count a window past it. */
    end: number;
    returned: boolean;
  }
  interface State {
    blocks: Block[];
    ledger: Ledger;
    readAt: number;
    /** Routes wanting a block at the next write, and what the ledger last had room for on each. */
    wants: Set<string>;
    rooms: Map<string, Room | 'unreachable'>;
    /** Blocks given back, by grant id, with what they still count (undefined: nothing; dropped). */
    returns: Map<string, Grant | undefined>;
    writing: Promise<void> | undefined;
    queued: Promise<void> | undefined;
    returnTimer: ReturnType<typeof setTimeout> | undefined;
    reading: Promise<void> | undefined;
    waiters: (() => void)[];
    routes: Set<string>;
    /** Routes whose blocks hold fewer calls than a share (`acquire`'s `most`). */
    most: Map<string, number>;
    pausedUntil: number;
    pauseReading: Promise<number | undefined> | undefined;
    pauseReadAt: number;
  }
  const states = new Map<string, State>();
  const stateOf = (credential: string): State => {
    let state = states.get(credential);
    if (state === undefined) {
      state = {
        blocks: [],
        ledger: { grants: [], version: undefined },
        readAt: 0,
        wants: new Set(),
        rooms: new Map(),
        returns: new Map(),
        writing: undefined,
        queued: undefined,
        returnTimer: undefined,
        reading: undefined,
        waiters: [],
        routes: new Set(),
        most: new Map(),
        pausedUntil: 0,
        pauseReading: undefined,
        pauseReadAt: 0,
      };
      states.set(credential, state);
    }
    return state;
  };
  const wake = (state: State) => {
    for (const waiter of state.waiters.splice(0)) waiter();
  };
  /** What a block held while a call of it is in flight must count: no less than a late answer would. */
  const heldGrant = (block: Block, at: number): Grant =>
    block.inFlight === 0
      ? block.grant
      : {
          ...block.grant,
          until: Math.max(block.grant.until, at + ABANDONED_MS + windowMs),
          slotsUntil: Math.max(block.grant.slotsUntil, at + ABANDONED_MS),
        };
  /** The ledger as this process knows it: what it read, with its own blocks and give-backs as they now stand. */
  const viewOf = (state: State, at: number): Grant[] => {
    const held = new Map(state.blocks.map((block) => [block.grant.id, heldGrant(block, at)]));
    const grants = state.ledger.grants
      .filter((grant) => !state.returns.has(grant.id) && !held.has(grant.id))
      .concat([...held.values()]);
    for (const back of state.returns.values()) if (back !== undefined) grants.push(back);
    return liveGrants(grants, at, skewMs);
  };
  const roomOf = (state: State, route: string, at: number, most: number) =>
    roomFor(viewOf(state, at), route, pointsOf(route), limits, at, most, skewMs, holder, mine);

  const read = async (credential: string, state: State) => {
    state.ledger = await ledgers.read(credential);
    state.readAt = now();
  };
  /** Reads the ledger if this process's copy is older than `readMs` (one read in flight per credential). */
  const refresh = async (credential: string, state: State) => {
    if (state.readAt !== 0 && now() - state.readAt < readMs) return;
    state.reading ??= read(credential, state).finally(() => {
      state.reading = undefined;
    });
    await state.reading;
  };

  /**
   * One conditional write of the ledger: this process's give-backs, and a block for each route wanting one that
   * has room. On a conflict (another process wrote first) it reads the ledger again and recomputes.
   */
  const writeLedger = async (credential: string, state: State) => {
    const wants = [...state.wants];
    state.wants.clear();
    const giveUpAt = Date.now() + WRITE_MS;
    try {
      for (let attempt = 0; attempt < WRITE_ATTEMPTS && Date.now() < giveUpAt; attempt += 1) {
        if (attempt > 0 || state.readAt === 0) await read(credential, state);
        const at = now();
        const returns = new Map(state.returns);
        let grants = viewOf(state, at);
        const made: Block[] = [];
        let stale = false;
        for (const route of wants) {
          const room = roomFor(
            grants,
            route,
            pointsOf(route),
            limits,
            at,
            Math.min(blockCalls(route), state.most.get(route) ?? Number.POSITIVE_INFINITY),
            skewMs,
            holder,
            mine,
          );
          state.rooms.set(route, room);
          if (room.calls === 0) {
            // A copy read a while ago may miss what others gave back since: read it before saying no.
            stale ||= at - state.readAt >= readMs;
            continue;
          }
          const sendBy = at + holdMs;
          grantNumber += 1;
          const grant: Grant = {
            id: `${holder}/${grantNumber}`,
            holder,
            route,
            calls: room.calls,
            points: pointsOf(route),
            until: sendBy + CALL_BOUND_MS + ABANDONED_MS + windowMs,
            slotsUntil: sendBy + CALL_BOUND_MS + ABANDONED_MS,
          };
          grants = [...grants, grant];
          made.push({ grant, sendBy, used: 0, refused: 0, inFlight: 0, end: 0, returned: false });
        }
        if (stale && attempt + 1 < WRITE_ATTEMPTS && made.length === 0) continue;
        if (made.length === 0 && returns.size === 0) return;
        // Blocks in flight whose written time runs short are written longer (`heldGrant`): never out of the ledger
        // while GitHub may count their calls.
        const written = await ledgers.write(credential, grants, state.ledger.version);
        if (written === undefined) {
          // Another process wrote first: read again after a short random wait, so that racing writers spread.
          await new Promise((resolve) =>
            setTimeout(resolve, Math.random() * CONFLICT_SPREAD_MS * Math.min(attempt + 1, 5)),
          );
          continue;
        }
        state.ledger = written;
        state.readAt = now();
        for (const [id, back] of returns) if (state.returns.get(id) === back) state.returns.delete(id);
        for (const block of state.blocks) {
          const kept = written.grants.find((grant) => grant.id === block.grant.id);
          if (kept !== undefined) block.grant = kept;
        }
        state.blocks.push(...made);
        for (const block of made) {
          setTimeout(() => giveBack(credential, state, block), holdMs).unref?.();
        }
        return;
      }
      // Outrun by others every time: the calls wait (the give-backs go with the next write).
      for (const route of wants) {
        const room = state.rooms.get(route);
        if (room === undefined || room === 'unreachable' || room.calls > 0)
          state.rooms.set(route, 'unreachable');
      }
    } catch (error) {
      options.onStoreError?.(error);
      for (const route of wants) state.rooms.set(route, 'unreachable');
    } finally {
      // Give-backs not written (outrun, or the store failed) are tried again within a read's time, whether or not
      // this process calls again: until then the ledger counts them longer, never shorter.
      if (state.returns.size > 0) returnSoon(credential, state);
      wake(state);
    }
  };
  /** A write of the ledger that begins after this call: one in flight per credential, the next one queued. */
  const flush = (credential: string, state: State): Promise<void> => {
    if (state.queued !== undefined) return state.queued;
    const run: Promise<void> = (state.writing ?? Promise.resolve())
      .then(() => {
        state.queued = undefined;
        state.writing = run;
        return writeLedger(credential, state);
      })
      .finally(() => {
        if (state.writing === run) state.writing = undefined;
      });
    state.queued = run;
    return run;
  };
  /** Gives a block back once it is used up or its time to send is over, and none of its calls is in flight. */
  const giveBack = (credential: string, state: State, block: Block, stopping = false) => {
    if (block.returned || block.inFlight > 0) return;
    if (!stopping && block.used < block.grant.calls && now() < block.sendBy) return;
    block.returned = true;
    state.blocks = state.blocks.filter((other) => other !== block);
    state.returns.set(
      block.grant.id,
      block.used - block.refused === 0
        ? undefined
        : {
            ...block.grant,
            calls: block.used - block.refused,
            until: block.end + windowMs,
            slotsUntil: block.end,
          },
    );
    // Written with the next block taken, or within a read's time: others learn of it no later than they read.
    returnSoon(credential, state);
  };
  const returnSoon = (credential: string, state: State) => {
    state.returnTimer ??= setTimeout(() => {
      state.returnTimer = undefined;
      void flush(credential, state);
    }, readMs);
    state.returnTimer.unref?.();
  };
  const giveBackDue = (credential: string, state: State) => {
    for (const block of state.blocks) giveBack(credential, state, block);
  };

  /** The credential's pause: this process's, else the cluster's (one read in flight per credential). */
  const pausedUntil = async (credential: string, state: State): Promise<number> => {
    if (state.pausedUntil > now() || options.pauses === undefined) return state.pausedUntil;
    if (now() - state.pauseReadAt < readMs) return state.pausedUntil;
    state.pauseReadAt = now();
    state.pauseReading ??= options.pauses
      .read(credential)
      .catch((error: unknown) => {
        options.onStoreError?.(error);
        return undefined;
      })
      .finally(() => {
        state.pauseReading = undefined;
      });
    const written = await state.pauseReading;
    if (written !== undefined && written > state.pausedUntil) state.pausedUntil = written;
    return state.pausedUntil;
  };
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
      `the GitHub budget for ${route} is spent for ${Math.ceil((until - now()) / 1000)} s`,
      until,
      undefined,
    );
  const unreachableError = () =>
    new GitHubLimitError(
      "GitHub's budget, shared in the cluster, could not be read or written: the call waits rather than risk GitHub's limits",
      now() + readMs,
      undefined,
    );
  /** A block of `route` this process holds with a call left to send. */
  const openBlock = (state: State, route: string) =>
    state.blocks.find(
      (block) => block.grant.route === route && block.used < block.grant.calls && now() < block.sendBy,
    );

  return {
    limits,
    async acquire(credential, route, deadline, most) {
      const state = stateOf(credential);
      state.routes.add(route);
      if (most !== undefined) state.most.set(route, Math.max(1, most));
      for (;;) {
        const paused = await pausedUntil(credential, state);
        if (paused > now()) throw refused(pausedError(paused));
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
        giveBackDue(credential, state);
        const block = openBlock(state, route);
        if (block !== undefined) {
          block.used += 1;
          block.inFlight += 1;
          let done = false;
          return (answered = true) => {
            if (done) return;
            done = true;
            // GitHub received the call before it answered: counted from here for a whole window, it is counted
            // no shorter than GitHub counts it. One given up may still be on its way.
            block.end = Math.max(block.end, now() + (answered ? 0 : ABANDONED_MS));
            if (answered === 'refused') block.refused += 1;
            block.inFlight -= 1;
            giveBack(credential, state, block);
            wake(state);
          };
        }
        // What a fresh read said is spent stays spent until it frees: no write to learn it again.
        const known = state.rooms.get(route);
        if (
          known !== undefined &&
          known !== 'unreachable' &&
          known.full !== undefined &&
          known.full !== 'slots' &&
          known.until > now() &&
          now() - state.readAt < readMs
        ) {
          throw refused(spentError(route, known.until));
        }
        state.wants.add(route);
        await flush(credential, state);
        if (openBlock(state, route) !== undefined) continue;
        const room = state.rooms.get(route);
        if (room === 'unreachable') throw refused(unreachableError());
        if (room === undefined || room.full === undefined) continue;
        if (room.full !== 'slots') throw refused(spentError(route, room.until));
        // Every slot is in flight: wait for one of ours to come back, or look again in a while.
        const waitMs = Math.min(deadline.at - CALL_MARGIN_MS - Date.now(), readMs, room.until - now());
        if (deadline.at - CALL_MARGIN_MS - Date.now() <= 0) {
          throw refused(
            new GitHubLimitError(
              `${limits.concurrency} GitHub calls of the credential are already in flight`,
              now() + 1000,
              undefined,
            ),
          );
        }
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, Math.max(10, waitMs));
          state.waiters.push(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
    },
    async blocked(credential, routes) {
      const state = stateOf(credential);
      const paused = await pausedUntil(credential, state);
      if (paused > now()) return refused(pausedError(paused));
      giveBackDue(credential, state);
      for (const route of routes) {
        state.routes.add(route);
        if (openBlock(state, route) !== undefined) continue;
        try {
          await refresh(credential, state);
        } catch (error) {
          options.onStoreError?.(error);
          return refused(unreachableError());
        }
        const room = roomOf(state, route, now(), 1);
        if (room.full !== undefined && room.full !== 'slots') return refused(spentError(route, room.until));
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
      const grants = viewOf(state, at).filter((grant) => grant.until + skewMs > at);
      const content = grants.filter((grant) => grant.points > 1);
      return {
        credential,
        pausedUntil: state.pausedUntil > at ? state.pausedUntil : undefined,
        inFlight: state.blocks.reduce((sum, block) => sum + block.inFlight, 0),
        concurrency: limits.concurrency,
        endpoints: [...state.routes].map((endpoint) => ({
          endpoint,
          points: grants
            .filter((grant) => grant.route === endpoint)
            .reduce((sum, grant) => sum + grant.calls * grant.points, 0),
          limit: limits.pointsPerMinute,
        })),
        content:
          limits.contentPerMinute === undefined
            ? undefined
            : { used: content.reduce((sum, grant) => sum + grant.calls, 0), limit: limits.contentPerMinute },
      };
    },
    credentials: () => [...states.keys()],
    lastRefusal: () => lastRefusal,
    async release() {
      await Promise.all(
        [...states].map(async ([credential, state]) => {
          for (const block of [...state.blocks]) giveBack(credential, state, block, true);
          if (state.returns.size > 0) await flush(credential, state);
        }),
      );
    },
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
