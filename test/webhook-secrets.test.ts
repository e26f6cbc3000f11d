import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../shared/config/load-config.js';
import { secretsFor } from '../shared/config/webhook-secrets.js';

function problemsOf(env: Record<string, string>): readonly string[] {
  try {
    loadConfig({ GITHUB_TOKEN: 't', ...env });
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('WEBHOOK_SECRETS', () => {
  it('reads lines, commas or JSON, an owner twice during a rotation (new first), owners case-insensitively', () => {
    for (const WEBHOOK_SECRETS of [
      'Octo-Org=new\nocto-org=old\n# a comment\nhubot=h',
      'octo-org=new,octo-org=old,hubot=h',
      '{"Octo-Org": ["new", "old"], "hubot": "h"}',
    ]) {
      const { webhookSecrets } = loadConfig({ GITHUB_TOKEN: 't', WEBHOOK_SECRETS });
      expect(webhookSecrets.shared).toEqual([]);
      expect(secretsFor(webhookSecrets, 'OCTO-ORG')).toEqual(['new', 'old']);
      expect(secretsFor(webhookSecrets, 'hubot')).toEqual(['h']);
      expect(secretsFor(webhookSecrets, 'stranger')).toEqual([]);
    }
  });

  it('keeps the shared secret, and its previous one, for owners without their own', () => {
    const { webhookSecrets } = loadConfig({
      GITHUB_TOKEN: 't',
      WEBHOOK_SECRET: 'shared-new',
      WEBHOOK_SECRET_PREVIOUS: 'shared-old',
      WEBHOOK_SECRETS: 'hubot=h',
    });
    expect(secretsFor(webhookSecrets, 'stranger')).toEqual(['shared-new', 'shared-old']);
    expect(secretsFor(webhookSecrets, undefined)).toEqual(['shared-new', 'shared-old']);
    expect(secretsFor(webhookSecrets, 'hubot')).toEqual(['h']);
  });

  it('names each problem without echoing a secret', () => {
    const problems = problemsOf({
      WEBHOOK_SECRETS: 'octo-org=a\nocto-org=b\nocto-org=c\njust-a-secret-value\n../x=y',
      WEBHOOK_SECRET_PREVIOUS: 'p',
    });
    expect(problems).toEqual([
      'WEBHOOK_SECRETS entries must be owner=secret; entry 4 is not',
      'WEBHOOK_SECRETS entries must be owner=secret; entry 5 is not',
      'WEBHOOK_SECRETS has 3 secrets for octo-org: at most two (new, then previous)',
      'WEBHOOK_SECRET_PREVIOUS needs WEBHOOK_SECRET: the new secret of the rotation',
    ]);
    expect(problems.join(' ')).not.toContain('just-a-secret-value');
  });

  it('is refused in App mode, where one App webhook has one secret', () => {
    expect(
      problemsOf({
        GITHUB_TOKEN: '',
        WEBHOOK_SECRET: 's',
        WEBHOOK_SECRETS: 'hubot=h',
        GITHUB_APP_ID: '1',
        GITHUB_APP_PRIVATE_KEY: '-----BEGIN PRIVATE KEY-----\nx\n-----END PRIVATE KEY-----',
      }),
    ).toEqual([
      'WEBHOOK_SECRETS does not apply in GitHub App mode: the App webhook has one secret, WEBHOOK_SECRET',
    ]);
  });

  it('bounds WEBHOOK_MAX_BODY_BYTES between 1 KiB and GitHub’s 25 MB', () => {
    expect(loadConfig({ GITHUB_TOKEN: 't', WEBHOOK_SECRET: 's' }).maxBodyBytes).toBe(256 * 1024);
    expect(problemsOf({ WEBHOOK_SECRET: 's', WEBHOOK_MAX_BODY_BYTES: '26214401' })).toEqual([
      'WEBHOOK_MAX_BODY_BYTES must be a whole number from 1024 to 26214400, got "26214401"',
    ]);
  });
});
