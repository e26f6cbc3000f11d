import { execFile } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { type BenchOptionsError, parseBenchOptions, SECTIONS } from '../bench/bench-options.js';

const run = promisify(execFile);
const tsx = fileURLToPath(new URL('../node_modules/.bin/tsx', import.meta.url));
const script = fileURLToPath(new URL('../bench/run.ts', import.meta.url));

describe('parseBenchOptions', () => {
  it('defaults to 5 runs of every section', () => {
    const options = parseBenchOptions({});
    expect(options.runs).toBe(5);
    expect([...options.sections]).toEqual([...SECTIONS]);
  });

  it('reads the runs and a subset of sections', () => {
    const options = parseBenchOptions({ BENCH_RUNS: '3', BENCH_SECTIONS: 'burst, cold' });
    expect(options.runs).toBe(3);
    expect([...options.sections]).toEqual(['burst', 'cold']);
  });

  it.each([['abc'], ['0'], ['2.5'], ['-1'], ['1e3x']])('refuses BENCH_RUNS=%s', (runs) => {
    expect(() => parseBenchOptions({ BENCH_RUNS: runs })).toThrow(
      `BENCH_RUNS must be a whole number from 1 to 1000, not "${runs}"`,
    );
  });

  it.each([['foo'], ['cold,foo'], [',']])('refuses BENCH_SECTIONS=%s', (sections) => {
    expect(() => parseBenchOptions({ BENCH_SECTIONS: sections })).toThrow(
      'BENCH_SECTIONS must list some of cold,warm,burst,memory,tls',
    );
  });

  it('lists every problem at once', () => {
    try {
      parseBenchOptions({ BENCH_RUNS: 'abc', BENCH_SECTIONS: 'foo' });
      expect.unreachable();
    } catch (error) {
      expect((error as BenchOptionsError).problems).toHaveLength(2);
    }
  });
});

describe('npm run bench with bad settings', () => {
  it.each([
    [{ BENCH_RUNS: 'abc' }, 'BENCH_RUNS must be a whole number'],
    [{ BENCH_SECTIONS: 'foo' }, 'BENCH_SECTIONS must list some of'],
  ])(
    '%o: says what is wrong and exits 2 before measuring anything',
    async (env, message) => {
      const failure = await run(tsx, [script], {
        env: { PATH: process.env.PATH ?? '', ...env },
        timeout: 20_000,
      }).then(
        () => ({ code: 0, stdout: '', stderr: '' }),
        (error: { code: number; stdout: string; stderr: string }) => error,
      );
      expect(failure.code).toBe(2);
      expect(failure.stderr).toContain(message);
      expect(failure.stdout).not.toContain('bundle built');
    },
    30_000,
  );
});
