import { SECRET_SETTINGS } from './read-secret-files.js';

type Env = Readonly<Record<string, string | undefined>>;

/** Settings that hold or choose GitHub and webhook credentials (with their `_FILE` forms, where they have one). */
const CREDENTIAL_SETTINGS = [
  ...SECRET_SETTINGS.filter((name) => name !== 'RUNNER_PROFILES'),
  'GITHUB_APP_ID',
  'METRICS_TOKEN',
];

/**
 * The environment for a tool that builds what the function would make but calls nobody (`render`,
 * `admission-params`): every credential setting and its `_FILE` removed, and placeholders for the two the
 * configuration requires. A wrong, unreadable or doubly set credential there has nothing to do with a Job's shape,
 * so it must not stop the tool.
 */
export function withoutCredentials(env: Env): Env {
  const kept: Record<string, string | undefined> = { ...env };
  for (const name of CREDENTIAL_SETTINGS) {
    delete kept[name];
    delete kept[`${name}_FILE`];
  }
  return { ...kept, WEBHOOK_SECRET: 'placeholder', GITHUB_TOKEN: 'placeholder' };
}
