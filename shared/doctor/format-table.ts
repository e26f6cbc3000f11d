import type { CheckResult, CheckStatus } from './check.js';

/** Widest a column is padded to. */
const MAX_WIDTH = 72;

/** The mark of each status in the table. */
export const STATUS_MARKS: Readonly<Record<CheckStatus, string>> = { pass: '✓', fail: '✗', warn: '!' };

/**
 * The doctor's table: one row per check (mark, check, what was seen, the fix), columns aligned, a count line at
 * the end. Plain text, so that it reads in a terminal and in a CI log alike.
 */
export function formatTable(results: readonly CheckResult[]): string {
  const rows = results.map((result) => [
    STATUS_MARKS[result.status],
    `${result.group}: ${result.check}`,
    oneLine(result.seen),
    oneLine(result.fix ?? ''),
  ]);
  const header = ['', 'CHECK', 'SEEN', 'FIX'];
  // A very long SEEN (every problem of an invalid configuration) does not push every other row's FIX away.
  const widths = [1, 2].map((column) =>
    Math.min(MAX_WIDTH, Math.max(...[header, ...rows].map((row) => (row[column] ?? '').length))),
  );
  const line = (row: string[]) =>
    `${row[0] || ' '}  ${(row[1] ?? '').padEnd(widths[0] ?? 0)}  ${(row[2] ?? '').padEnd(widths[1] ?? 0)}  ${row[3] ?? ''}`.trimEnd();
  const count = (status: CheckStatus) => results.filter((result) => result.status === status).length;
  return [
    line(header),
    ...rows.map(line),
    '',
    `${count('pass')} passed, ${count('fail')} failed, ${count('warn')} warnings`,
  ].join('\n');
}

function oneLine(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').trim();
}
