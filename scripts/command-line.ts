import { type ParseArgsConfig, parseArgs } from 'node:util';

type Options = NonNullable<ParseArgsConfig['options']>;

/**
 * Parses a helper command's options, with `--help`/`-h` added: help prints the usage and exits 0; an option
 * `parseArgs` refuses (unknown, missing its value) goes to `refuse` with the reason, never as a stack trace.
 */
export function parseCommandLine<const T extends Options>(
  options: T,
  usage: string,
  refuse: (message: string) => never,
) {
  const config = {
    options: { ...options, help: { type: 'boolean', short: 'h' } } as T & {
      help: { type: 'boolean'; short: 'h' };
    },
    strict: true as const,
  };
  let parsed: ReturnType<typeof parseArgs<typeof config>>;
  try {
    parsed = parseArgs(config);
  } catch (error) {
    refuse((error as Error).message);
  }
  // Generic here, the values type is only known to the caller; help is always among them.
  if ((parsed.values as { help?: boolean }).help) {
    process.stdout.write(`${usage}\n`);
    process.exit(0);
  }
  return parsed.values;
}
