/** The parts of `npm run bench`, in the order they run. */
export const SECTIONS = ['cold', 'warm', 'burst', 'memory', 'tls'] as const;
export type Section = (typeof SECTIONS)[number];

export interface BenchOptions {
  /** Runs per measure; each figure is the median of these. */
  readonly runs: number;
  readonly sections: ReadonlySet<Section>;
}

/** The bench's settings are wrong; `problems` lists each one. */
export class BenchOptionsError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(problems.join('; '));
    this.name = 'BenchOptionsError';
  }
}

/**
 * Reads `BENCH_RUNS` (a whole number from 1) and `BENCH_SECTIONS` (a comma-separated subset of `SECTIONS`),
 * collecting every problem: a bench that runs with NaN runs or no section would print a table that means nothing.
 */
export function parseBenchOptions(env: Readonly<Record<string, string | undefined>>): BenchOptions {
  const problems: string[] = [];
  const runsText = env.BENCH_RUNS?.trim() || '5';
  const runs = /^\d+$/.test(runsText) ? Number(runsText) : Number.NaN;
  if (!(runs >= 1 && runs <= 1000)) {
    problems.push(`BENCH_RUNS must be a whole number from 1 to 1000, not "${env.BENCH_RUNS}"`);
  }
  const names = (env.BENCH_SECTIONS?.trim() || SECTIONS.join(','))
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name !== '');
  const unknown = names.filter((name) => !(SECTIONS as readonly string[]).includes(name));
  if (unknown.length > 0 || names.length === 0) {
    problems.push(
      `BENCH_SECTIONS must list some of ${SECTIONS.join(',')} (comma-separated), not "${env.BENCH_SECTIONS}"`,
    );
  }
  if (problems.length > 0) throw new BenchOptionsError(problems);
  return { runs, sections: new Set(names as Section[]) };
}
