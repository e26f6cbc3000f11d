/** Whether two owner (or repository) names are the same to GitHub, which compares them case-insensitively. */
export function sameName(a: string, b: string): boolean {
  return a.toLowerCase() === b.toLowerCase();
}
