/**
 * The entries of a per-owner setting (`GITHUB_TOKENS`, `WEBHOOK_SECRETS`): `owner=value` pairs separated by
 * newlines or commas (blank lines and `#` comments skipped), or a JSON object `{ "owner": "value" }` whose values
 * may be lists (`{ "owner": ["new", "previous"] }`) where `lists` allows. Values are not checked here: each setting
 * names its own problems, never echoing a value. `undefined` (with the problem pushed) when JSON does not parse.
 */
export function parseOwnerPairs(
  name: string,
  text: string,
  problems: string[],
  options: { lists?: boolean } = {},
): [owner: string, value: unknown][] | undefined {
  if (text.startsWith('{')) {
    try {
      const entries = Object.entries(JSON.parse(text) as Record<string, unknown>);
      if (!options.lists) return entries;
      return entries.flatMap(([owner, value]) =>
        Array.isArray(value) ? value.map((one): [string, unknown] => [owner, one]) : [[owner, value]],
      );
    } catch {
      problems.push(`${name} looks like JSON but does not parse`);
      return undefined;
    }
  }
  return text
    .split(/[\n,]/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => {
      const at = line.indexOf('=');
      return at < 0 ? [line, undefined] : [line.slice(0, at).trim(), line.slice(at + 1).trim()];
    });
}
