/**
 * Wraps a count read from the Kubernetes API so that it is read at most once per `ttlMs`, however often
 * `/metrics` is scraped or pushed: calls within the window share the last answer, or the read in flight. A failed
 * read also holds the window (a scrape storm against a failing API server costs one LIST per window too) and
 * rejects its callers.
 */
export function cachedCount(
  read: () => Promise<number>,
  ttlMs: number,
  now: () => number = Date.now,
): () => Promise<number> {
  let last: { at: number; value: Promise<number> } | undefined;
  return () => {
    const time = now();
    if (last === undefined || time - last.at >= ttlMs) {
      const value = read();
      // Read once here so that a failure nobody awaits is not reported as unhandled.
      value.catch(() => undefined);
      last = { at: time, value };
    }
    return last.value;
  };
}
