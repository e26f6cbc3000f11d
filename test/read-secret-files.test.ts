import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { ConfigError } from '../shared/config/load-config.js';
import { readSecretFiles } from '../shared/config/read-secret-files.js';
import { tempDir } from './support/temp-dir.js';

describe('readSecretFiles', () => {
  const dir = tempDir('secrets');
  writeFileSync(join(dir, 'webhook-secret'), 'from-file\n');
  writeFileSync(join(dir, 'github-token'), 'token-from-file');

  it('reads <NAME>_FILE into <NAME>, dropping one trailing newline', () => {
    const env = readSecretFiles({
      WEBHOOK_SECRET_FILE: join(dir, 'webhook-secret'),
      GITHUB_TOKEN_FILE: join(dir, 'github-token'),
    });
    expect(env.WEBHOOK_SECRET).toBe('from-file');
    expect(env.GITHUB_TOKEN).toBe('token-from-file');
  });

  it('refuses a setting given both directly and as a file: which one is stale cannot be told', () => {
    expect(() =>
      readSecretFiles({ WEBHOOK_SECRET: 'direct', WEBHOOK_SECRET_FILE: join(dir, 'webhook-secret') }),
    ).toThrow('WEBHOOK_SECRET and WEBHOOK_SECRET_FILE are both set: set one of them');
  });

  it('treats an empty value as unset, so the file is read', () => {
    expect(
      readSecretFiles({ WEBHOOK_SECRET: '', WEBHOOK_SECRET_FILE: join(dir, 'webhook-secret') })
        .WEBHOOK_SECRET,
    ).toBe('from-file');
  });

  it('names the variable and path of every unreadable file at once', () => {
    let problems: readonly string[] = [];
    try {
      readSecretFiles({ GITHUB_TOKEN_FILE: join(dir, 'missing'), RECONCILE_TOKEN_FILE: join(dir, 'gone') });
    } catch (error) {
      problems = (error as ConfigError).problems;
    }
    expect(problems).toEqual([
      `GITHUB_TOKEN_FILE: cannot read ${join(dir, 'missing')}: ENOENT`,
      `RECONCILE_TOKEN_FILE: cannot read ${join(dir, 'gone')}: ENOENT`,
    ]);
  });
});
