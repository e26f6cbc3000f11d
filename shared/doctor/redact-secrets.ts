import type { Config } from '../config/load-config.js';

/**
 * Every secret of the configuration, as it could appear in text: webhook secrets, GitHub tokens, the App's private
 * key (and each of its lines), the reconcile and metrics tokens.
 */
export function secretsOf(config: Config): string[] {
  const { webhookSecrets, githubAuth } = config;
  const found = [
    ...webhookSecrets.shared,
    ...[...webhookSecrets.owners.values()].flat(),
    config.reconcileToken,
    config.metrics.token,
  ];
  if (githubAuth.kind === 'app') found.push(githubAuth.privateKey, ...githubAuth.privateKey.split('\n'));
  else found.push(githubAuth.fallbackToken, ...githubAuth.tokens.values());
  // Short strings (a PEM's `-----END...` line is not, but an empty line is) would blank out ordinary words.
  return found.filter((secret): secret is string => secret !== undefined && secret.trim().length >= 8);
}

/** The text with every one of `secrets` replaced by `***`: what doctor prints is scrubbed by configuration. */
export function redactSecrets(text: string, secrets: readonly string[]): string {
  let redacted = text;
  // Longest first, so that a secret containing another is replaced whole.
  for (const secret of [...secrets].sort((a, b) => b.length - a.length)) {
    redacted = redacted.split(secret).join('***');
  }
  return redacted;
}
