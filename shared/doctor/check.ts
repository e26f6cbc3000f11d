/** How a check came out: passed, failed (the setup is broken), or a warning (works, or could not be judged). */
export type CheckStatus = 'pass' | 'fail' | 'warn';

/** What one check found. */
export interface Finding {
  readonly status: CheckStatus;
  /** What was seen, in a line: a version, a count, what is missing. Never a secret. */
  readonly seen: string;
  /** What to do about it (failures and warnings). */
  readonly fix?: string;
}

/** One row of the doctor's table. */
export interface CheckResult extends Finding {
  /** `kubernetes`, `github`, `webhooks` or `function`. */
  readonly group: string;
  readonly check: string;
}

/** A check to run: its name, and how to run it within a deadline (the signal aborts when time is up). */
export interface Check {
  readonly group: string;
  readonly check: string;
  run(signal: AbortSignal): Promise<Finding>;
}

export const pass = (seen: string): Finding => ({ status: 'pass', seen });
export const fail = (seen: string, fix: string): Finding => ({ status: 'fail', seen, fix });
export const warn = (seen: string, fix?: string): Finding => ({
  status: 'warn',
  seen,
  ...(fix === undefined ? {} : { fix }),
});

/** A check that could not run because an earlier one failed or was not possible. */
export const notRun = (why: string): Finding => warn(`not run: ${why}`);

/**
 * Runs one check within `timeoutMs`. A check that throws or runs out of time did not judge anything: it is a
 * warning saying why it could not run, and the other checks go on.
 */
export async function runCheck(check: Check, timeoutMs: number): Promise<CheckResult> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<Finding>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve(
        warn(
          `not run to the end: no answer within ${timeoutMs / 1000} s`,
          'run doctor again, or raise --timeout',
        ),
      );
    }, timeoutMs);
  });
  try {
    const finding = await Promise.race([check.run(controller.signal), timedOut]);
    return { group: check.group, check: check.check, ...finding };
  } catch (error) {
    return {
      group: check.group,
      check: check.check,
      ...warn(`could not run: ${(error as Error).message}`),
    };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Runs the checks one after another (later checks of a group may read what earlier ones learnt), each within its
 * own timeout.
 */
export async function runChecks(checks: readonly Check[], timeoutMs: number): Promise<CheckResult[]> {
  const results: CheckResult[] = [];
  for (const check of checks) results.push(await runCheck(check, timeoutMs));
  return results;
}
