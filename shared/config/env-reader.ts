/** The environment as the configuration reads it. */
export type Env = Readonly<Record<string, string | undefined>>;

/** Typed reads of environment settings; each problem is pushed onto `problems`, so that all are reported at once. */
export interface EnvReader {
  /** The trimmed value, or undefined when unset or blank. */
  text(name: string): string | undefined;
  /** A whole number within [min, max], or `fallback` when unset (a problem when out of range or not a number). */
  integer(name: string, fallback: number, min: number, max: number): number;
  /** One of the allowed words, or `fallback` when unset. */
  oneOf<T extends string>(name: string, allowed: readonly T[], fallback: T): T;
}

/** The readers `loadConfig` and the settings parsers of each area share. */
export function createEnvReader(env: Env, problems: string[]): EnvReader {
  const text = (name: string): string | undefined => {
    const value = env[name]?.trim();
    return value === undefined || value === '' ? undefined : value;
  };
  return {
    text,
    integer(name, fallback, min, max) {
      const value = text(name);
      if (value === undefined) return fallback;
      const parsed = /^\d+$/.test(value) ? Number(value) : Number.NaN;
      if (!Number.isSafeInteger(parsed) || parsed < min || parsed > max) {
        problems.push(`${name} must be a whole number from ${min} to ${max}, got "${value}"`);
        return fallback;
      }
      return parsed;
    },
    oneOf(name, allowed, fallback) {
      const value = text(name);
      if (value === undefined) return fallback;
      if ((allowed as readonly string[]).includes(value)) return value as (typeof allowed)[number];
      problems.push(`${name} must be one of ${allowed.join(', ')}, got "${value}"`);
      return fallback;
    },
  };
}
