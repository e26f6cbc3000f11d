import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { readSecretFiles } from '../shared/config/read-secret-files.js';

describe('readSecretFiles', () => {
  const dir = mkdtempSync(join(tmpdir(), 'kar-secrets-'));
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

  it('lets a value set directly win', () => {
    expect(
      readSecretFiles({ WEBHOOK_SECRET: 'direct', WEBHOOK_SECRET_FILE: join(dir, 'webhook-secret') })
        .WEBHOOK_SECRET,
    ).toBe('direct');
  });

  it('names the variable and path of an unreadable file', () => {
    expect(() => readSecretFiles({ GITHUB_TOKEN_FILE: join(dir, 'missing') })).toThrow(
      `GITHUB_TOKEN_FILE: cannot read ${join(dir, 'missing')}: ENOENT`,
    );
  });
});
