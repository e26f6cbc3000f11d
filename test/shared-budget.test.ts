import { describe, expect, it } from 'vitest';
import { GitHubLimitError } from '../shared/errors/errors.js';
import { createMemoryLedgers, type LedgerStore } from '../shared/github/budget-ledger.js';
import { createCredentialBudget, type GitHubLimits } from '../shared/github/credential-budget.js';
import { deadlineIn } from '../shared/retry/with-retries.js';

const AT = 1_800_000_000_000;
const JIT = 'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig';
const JOB = 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}';
/** 18 registrations a window across the fleet; blocks of 1 (90 / 18 / 5). */
const LIMITS: GitHubLimits = {
  concurrency: 100,
  pointsPerMinute: 90,
  contentPerMinute: undefined,
  windowMs: 60_000,
};

const clock = () => {
  let now = AT;
  return { now: () => now, advance: (ms: number) => (now += ms) };
};

/** Takes calls until the budget refuses; each answered at once. Answers how many it got. */
async function drain(budget: ReturnType<typeof createCredentialBudget>, route = JIT): Promise<number> {
  for (let taken = 0; ; taken += 1) {
    try {
      (await budget.acquire('pat:a', route, deadlineIn(8000)))();
    } catch (error) {
      expect(error).toBeInstanceOf(GitHubLimitError);
      return taken;
    }
  }
}

/** A ledger whose writes race: before each write, another process's write lands first (409) `times` times. */
function racing(
  store: LedgerStore & { peek: ReturnType<typeof createMemoryLedgers>['peek'] },
  times: number,
) {
  let left = times;
  let conflicts = 0;
  const wrapped: LedgerStore = {
    read: (credential) => store.read(credential),
    async write(credential, grants, version) {
      if (left > 0) {
        left -= 1;
        conflicts += 1;
        // Someone else's write: the version moves on, the grants stay.
        await store.write(credential, store.peek(credential).grants, version);
      }
      return store.write(credential, grants, version);
    },
  };
  return { store: wrapped, conflicts: () => conflicts };
}

describe("one credential's budget shared by several processes through a ledger", () => {
  it('lets one process alone use all of what is free, and the next one nothing more', async () => {
    const time = clock();
    const ledgers = createMemoryLedgers();
    const one = createCredentialBudget(LIMITS, { ledgers, now: time.now });
    const two = createCredentialBudget(LIMITS, { ledgers, now: time.now });
    expect(await drain(one)).toBe(18);
    expect(await drain(two)).toBe(0);
    await expect(two.blocked('pat:a', [JIT])).resolves.toBeInstanceOf(GitHubLimitError);
    // A window (and the allowance for clocks) after the answers, the other process may use all of it.
    time.advance(60_000 + 250);
    expect(await drain(two)).toBe(18);
  });

  it('never lets racing processes together take more than the limits, whoever wins each write', async () => {
    // On the real clock: a process waiting for a slot reads again what the others gave back.
    const ledgers = createMemoryLedgers();
    const budgets = [1, 2, 3, 4, 5].map(() =>
      createCredentialBudget({ ...LIMITS, pointsPerMinute: 900 }, { ledgers }),
    );
    // 50 registrations each asked at once: GitHub allows 180 a window; each write is conditional, so a loser
    // reads again and takes only what is left.
    const results = await Promise.all(
      budgets.flatMap((budget) =>
        Array.from({ length: 50 }, () =>
          budget.acquire('pat:a', JIT, deadlineIn(8000)).then(
            (release) => {
              release();
              return 1;
            },
            () => 0,
          ),
        ),
      ),
    );
    const taken = results.reduce((sum: number, one: number) => sum + one, 0);
    expect(taken).toBeLessThanOrEqual(180);
    expect(taken).toBeGreaterThanOrEqual(150);
    const held = ledgers.peek('pat:a').grants.reduce((sum, grant) => sum + grant.calls * grant.points, 0);
    expect(held).toBeLessThanOrEqual(900);
  });

  it('reads again and recomputes after a conflicting write, and gives up (the call waits) after too many', async () => {
    const time = clock();
    const memory = createMemoryLedgers();
    const twice = racing(memory, 2);
    const budget = createCredentialBudget(LIMITS, { ledgers: twice.store, now: time.now });
    (await budget.acquire('pat:a', JIT, deadlineIn(8000)))();
    expect(twice.conflicts()).toBe(2);
    const always = racing(createMemoryLedgers(), 1000);
    const outrun = createCredentialBudget(LIMITS, { ledgers: always.store, now: time.now });
    await expect(outrun.acquire('pat:a', JIT, deadlineIn(8000))).rejects.toThrow(
      /could not be read or written/,
    );
  });

  it('sends nothing when the ledger cannot be reached: it waits, never spends on a guess', async () => {
    const errors: unknown[] = [];
    const down: LedgerStore = {
      read: async () => {
        throw new Error('connect ECONNREFUSED');
      },
      write: async () => {
        throw new Error('connect ECONNREFUSED');
      },
    };
    const budget = createCredentialBudget(LIMITS, { ledgers: down, onStoreError: (e) => errors.push(e) });
    const refused = await budget.acquire('pat:a', JOB, deadlineIn(8000)).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(GitHubLimitError);
    expect(String((refused as Error).message)).toMatch(/waits rather than risk/);
    await expect(budget.blocked('pat:a', [JOB])).resolves.toBeInstanceOf(GitHubLimitError);
    expect(errors.length).toBeGreaterThan(0);
  });

  it('counts what a process killed holding a block took until the block expires, as written', async () => {
    const time = clock();
    const ledgers = createMemoryLedgers();
    const killed = createCredentialBudget({ ...LIMITS, pointsPerMinute: 900 }, { ledgers, now: time.now });
    // It takes a block of 10 registrations, sends one, and dies before the answer: nothing is given back.
    await killed.acquire('pat:a', JIT, deadlineIn(8000));
    const [grant] = ledgers.peek('pat:a').grants;
    expect(grant).toMatchObject({ calls: 10, points: 5 });
    // Written to count past its last possible sending (5 s), GitHub's 10 s, ABANDONED_MS and a window.
    expect(grant?.until).toBe(AT + 5000 + 10_000 + 10_000 + 60_000);
    const other = createCredentialBudget({ ...LIMITS, pointsPerMinute: 900 }, { ledgers, now: time.now });
    expect(await drain(other)).toBe(170);
    // A window later its own calls have left; the dead process's block still counts.
    time.advance(60_000);
    expect(await drain(other)).toBe(170);
    time.advance(25_000 + 250);
    expect(await drain(other)).toBe(10);
  });

  it('gives back what a block did not use, and counts what it used a window after its last answer', async () => {
    const time = clock();
    const ledgers = createMemoryLedgers();
    const budget = createCredentialBudget({ ...LIMITS, pointsPerMinute: 900 }, { ledgers, now: time.now });
    const release = await budget.acquire('pat:a', JIT, deadlineIn(8000));
    time.advance(2000);
    release();
    // The block's time to send (5 s) is over: at the next look it is given back, 1 call of its 10 kept.
    time.advance(3000);
    await expect(budget.blocked('pat:a', [JIT])).resolves.toBeUndefined();
    // The give-back goes with the next write (here, a block of job reads).
    (await budget.acquire('pat:a', JOB, deadlineIn(8000)))();
    expect(ledgers.peek('pat:a').grants.filter((grant) => grant.route === JIT)).toEqual([
      expect.objectContaining({ calls: 1, until: AT + 2000 + 60_000, slotsUntil: AT + 2000 }),
    ]);
    // Another process may take all but that one call's points.
    const other = createCredentialBudget({ ...LIMITS, pointsPerMinute: 900 }, { ledgers, now: time.now });
    expect(await drain(other)).toBe(179);
  });

  it('keeps one process within its share when GITHUB_LIMIT_INSTANCES caps it', async () => {
    const ledgers = createMemoryLedgers();
    const capped = createCredentialBudget({ ...LIMITS, share: 1 / 3 }, { ledgers, now: () => AT });
    expect(await drain(capped)).toBe(6);
  });
});

describe('a process that stops', () => {
  it('gives back at once what it took and did not use, so the next process has it', async () => {
    const time = clock();
    const ledgers = createMemoryLedgers();
    const limits = { ...LIMITS, pointsPerMinute: 900 };
    const one = createCredentialBudget(limits, { ledgers, now: time.now });
    const two = createCredentialBudget(limits, { ledgers, now: time.now });
    // One registration takes a block of ten; the other nine would stay counted until the block expires.
    (await one.acquire('pat:a', JIT, deadlineIn(8000)))();
    await one.release();
    expect(await drain(two)).toBe(179);
  });
});
