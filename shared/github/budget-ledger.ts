/**
 * A credential's GitHub budget as the whole fleet shares it: a ledger of grants, each a block of calls of one
 * endpoint that one process (an instance, or a reconcile pod) took and may send. GitHub counts a call from its
 * arrival, for a window; a grant counts its calls from before the first could leave until a window after the last
 * answer (`until`), and holds one concurrency slot per call until the last answer (`slotsUntil`). So at any time the
 * calls GitHub counts are among the live grants, and the live grants never sum to more than GitHub's limits.
 */

/** A block of calls taken from a credential's budget. */
export interface Grant {
  /** Unique in the ledger: `<holder>/<n>`. */
  readonly id: string;
  /** The process that took it. */
  readonly holder: string;
  /** The endpoint (route template) its calls are of. */
  readonly route: string;
  /** How many calls (and concurrency slots) it holds. */
  readonly calls: number;
  /** What one call costs: a GET 1, other methods 5. */
  readonly points: number;
  /** Until when (ms since epoch) its calls count against the points of its endpoint (and content). */
  readonly until: number;
  /** Until when its calls may be in flight at GitHub (ms since epoch). */
  readonly slotsUntil: number;
}

/** The ledger as last read or written, with the version a conditional write names (undefined: none exists). */
export interface Ledger {
  readonly grants: readonly Grant[];
  readonly version: string | undefined;
}

/**
 * Where the ledger is kept for every process to read (a Lease per credential in production; in memory for one
 * process alone). `write` succeeds only if the ledger is still at `version`, as a write conditional on a Lease's
 * resourceVersion does: it answers the ledger written (with its new version), or undefined when another write came
 * first (HTTP 409), and the writer reads again.
 */
export interface LedgerStore {
  read(credential: string): Promise<Ledger>;
  write(
    credential: string,
    grants: readonly Grant[],
    version: string | undefined,
  ): Promise<Ledger | undefined>;
}

/** The limits the ledger keeps to, for one credential across the fleet. */
export interface LedgerLimits {
  readonly concurrency: number;
  readonly pointsPerMinute: number;
  readonly contentPerMinute: number | undefined;
  /** The window points and content are counted over. */
  readonly windowMs: number;
}

/**
 * How much later than its own clock says another process's grant may still be in force: the processes' clocks
 * differ a little (NTP keeps nodes within milliseconds), and a grant read by a process whose clock runs ahead
 * must not look expired early.
 */
export const CLOCK_SKEW_MS = 250;

/** The grants still in force at `at` (`skewMs` later than each says): every other one may be dropped. */
export function liveGrants(grants: readonly Grant[], at: number, skewMs: number): Grant[] {
  return grants.filter((grant) => Math.max(grant.until, grant.slotsUntil) + skewMs > at);
}

/** What the ledger has room for: calls of a route now, or why not and until when. */
export type Room =
  | { readonly calls: number; readonly full?: undefined }
  | { readonly calls: 0; readonly full: 'points' | 'content' | 'slots'; readonly until: number };

/**
 * The calls of `route` (each costing `cost` points) the ledger has room for at `at`, at most `most`, each grant of
 * another holder than `self` taken to count `skewMs` longer than it says (its own are on the asker's clock);
 * `mine` (when given) also keeps the holder's own grants within `share` of each limit.
 */
export function roomFor(
  grants: readonly Grant[],
  route: string,
  cost: number,
  limits: LedgerLimits,
  at: number,
  most: number,
  skewMs: number,
  self?: string,
  mine?: { readonly holder: string; readonly share: number },
): Room {
  const skewOf = (grant: Grant) => (grant.holder === self ? 0 : skewMs);
  const countsPoints = (grant: Grant) => grant.until + skewOf(grant) > at;
  const holdsSlots = (grant: Grant) => grant.slotsUntil + skewOf(grant) > at;
  const counted = mine === undefined ? grants : grants.filter((grant) => grant.holder === mine.holder);
  const share = (limit: number) => (mine === undefined ? limit : Math.floor(limit * mine.share));
  const sum = (list: readonly Grant[], weight: (grant: Grant) => number) =>
    list.reduce((total, grant) => total + weight(grant), 0);
  /** When enough of `list` has expired (each by `end`, weighing `weight`) for `need` more of `limit`. */
  const freeAt = (
    list: readonly Grant[],
    weight: (grant: Grant) => number,
    need: number,
    limit: number,
    end: (grant: Grant) => number,
  ) => {
    let left = sum(list, weight);
    for (const grant of [...list].sort((a, b) => end(a) - end(b))) {
      left -= weight(grant);
      if (left + need <= limit) return end(grant) + skewOf(grant);
    }
    return at + 1000;
  };
  const callsOf = (grant: Grant) => grant.calls;
  const pointsOf = (grant: Grant) => grant.calls * grant.points;
  const scopes: { full: 'points' | 'content' | 'slots'; free: number; until: () => number }[] = [];
  for (const list of mine === undefined ? [grants] : [grants, counted]) {
    const limitOf = list === grants ? (limit: number) => limit : share;
    const onRoute = list.filter((grant) => grant.route === route && countsPoints(grant));
    const points = sum(onRoute, pointsOf);
    const pointsLimit = limitOf(limits.pointsPerMinute);
    scopes.push({
      full: 'points',
      free: Math.floor((pointsLimit - points) / cost),
      until: () =>
        cost > pointsLimit
          ? at + limits.windowMs
          : freeAt(onRoute, pointsOf, cost, pointsLimit, (g) => g.until),
    });
    const inFlight = list.filter((grant) => holdsSlots(grant));
    const slots = sum(inFlight, callsOf);
    const slotsLimit = limitOf(limits.concurrency);
    scopes.push({
      full: 'slots',
      free: slotsLimit - slots,
      until: () => freeAt(inFlight, callsOf, 1, slotsLimit, (g) => g.slotsUntil),
    });
    if (limits.contentPerMinute !== undefined && cost > 1) {
      const creating = list.filter((grant) => grant.points > 1 && countsPoints(grant));
      const content = sum(creating, callsOf);
      const contentLimit = limitOf(limits.contentPerMinute);
      scopes.push({
        full: 'content',
        free: contentLimit - content,
        until: () => freeAt(creating, callsOf, 1, contentLimit, (g) => g.until),
      });
    }
  }
  // Points and content first: a spent window says the most about when a call fits again.
  const order = { points: 0, content: 1, slots: 2 } as const;
  const short = scopes.filter((scope) => scope.free < 1).sort((a, b) => order[a.full] - order[b.full])[0];
  if (short !== undefined) return { calls: 0, full: short.full, until: short.until() };
  return { calls: Math.max(0, Math.min(most, ...scopes.map((scope) => scope.free))) };
}

/**
 * A ledger kept in this process's memory, under the same contract as the Lease (a stale version is refused): the
 * budget of a process that is the only one calling with its credentials, and the tests' stand-in for the Lease.
 */
export function createMemoryLedgers(): LedgerStore & {
  /** The ledger as stored, for tests. */
  peek(credential: string): Ledger;
} {
  const ledgers = new Map<string, { grants: readonly Grant[]; version: number }>();
  let version = 0;
  const view = (credential: string): Ledger => {
    const stored = ledgers.get(credential);
    return stored === undefined
      ? { grants: [], version: undefined }
      : { grants: stored.grants, version: String(stored.version) };
  };
  return {
    read: async (credential) => view(credential),
    async write(credential, grants, expected) {
      if (view(credential).version !== expected) return undefined;
      version += 1;
      ledgers.set(credential, { grants: [...grants], version });
      return view(credential);
    },
    peek: view,
  };
}
