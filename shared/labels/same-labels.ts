/** Whether two label lists name the same labels, in any order (GitHub compares labels case-insensitively). */
export function sameLabels(a: readonly string[], b: readonly string[]): boolean {
  const normal = (labels: readonly string[]) =>
    [...new Set(labels.map((label) => label.toLowerCase()))].sort().join('\n');
  return normal(a) === normal(b);
}
