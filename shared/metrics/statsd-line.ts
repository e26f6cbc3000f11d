/** The statsd metric types the push uses: counter increment, gauge value, histogram observation. */
export type StatsdType = 'c' | 'g' | 'h';

/**
 * One statsd line with DogStatsD tags, as statsd_exporter parses it (`name:value|type|#key:value,...`): the
 * value is the first `:` after the name, `|` separates the parts, `,` the tags, and a tag's key ends at its first
 * `:`. Those separators and line breaks cannot appear in a tag value, so they are replaced by `_`; an empty value
 * (a request that named no repository) is sent as the tag left out, which Prometheus reads as the empty value.
 * https://github.com/prometheus/statsd_exporter#tagging-extensions
 */
export function statsdLine(
  name: string,
  value: number,
  type: StatsdType,
  labels: Readonly<Record<string, string>> = {},
): string {
  if (!Number.isFinite(value) || (type !== 'h' && value < 0)) {
    throw new RangeError(`statsd ${type} value must be a finite number >= 0, got ${value}`);
  }
  const tags = Object.entries(labels)
    .filter(([, tag]) => tag !== '')
    .map(([key, tag]) => `${key}:${tag.replace(/[,|#\r\n]/g, '_')}`);
  return `${name}:${value}|${type}${tags.length > 0 ? `|#${tags.join(',')}` : ''}`;
}
