/** The label value that stands for every value beyond a limit. */
export const OTHER = 'other';

/**
 * Keeps the first `max` distinct values of a label and answers `other` for any later one, so that no client can
 * grow the metrics without bound (each distinct value is a series kept for the life of the process and of the
 * receiver). The empty value (a request that named no owner) is always kept and does not count.
 */
export function createLabelLimit(max: number): (value: string) => string {
  const kept = new Set<string>();
  return (value) => {
    if (value === '' || kept.has(value)) return value;
    if (kept.size >= max) return OTHER;
    kept.add(value);
    return value;
  };
}
