/**
 * `LABEL_MATCHERS` decides which jobs this deployment serves.
 *
 * Grammar: `;` separates matchers, `,` separates alternatives inside one, `+` joins labels that must all be
 * present. `linux+x64;arm64` and `linux+x64,arm64` both mean "(linux and x64) or arm64". A job is only ever
 * served when its labels include `self-hosted`; with no matchers every self-hosted job is served.
 * GitHub compares runner labels case-insensitively, and so do we.
 */

/** One alternative: every label in it must be among the job's labels. */
export type LabelMatcher = readonly string[];

/** The label GitHub requires on every job meant for a self-hosted runner. */
export const SELF_HOSTED_LABEL = 'self-hosted';

/**
 * Parses `LABEL_MATCHERS`. Returns the alternatives (empty when unset or blank), or throws a RangeError naming
 * the malformed part.
 */
export function parseLabelMatchers(text: string | undefined): LabelMatcher[] {
  if (text === undefined || text.trim() === '') return [];
  const matchers: LabelMatcher[] = [];
  for (const alternative of text.split(/[;,]/)) {
    const labels = alternative.split('+').map((label) => label.trim().toLowerCase());
    if (labels.some((label) => label === '')) {
      throw new RangeError(
        `LABEL_MATCHERS "${text}" has an empty label (check for doubled or trailing , ; +)`,
      );
    }
    matchers.push(labels);
  }
  return matchers;
}

/** True when a job with these labels is one this deployment serves. */
export function matchLabels(jobLabels: readonly string[], matchers: readonly LabelMatcher[]): boolean {
  const labels = new Set(jobLabels.map((label) => label.toLowerCase()));
  if (!labels.has(SELF_HOSTED_LABEL)) return false;
  if (matchers.length === 0) return true;
  return matchers.some((matcher) => matcher.every((label) => labels.has(label)));
}

/**
 * True when a runner registered with `runnerLabels` can take a job asking for `jobLabels`: GitHub gives a job to any
 * runner whose labels include all of the job's, compared case-insensitively.
 */
export function labelsCover(runnerLabels: readonly string[], jobLabels: readonly string[]): boolean {
  const has = new Set(runnerLabels.map((label) => label.toLowerCase()));
  return jobLabels.every((label) => has.has(label.toLowerCase()));
}
