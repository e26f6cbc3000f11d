import { execFile } from 'node:child_process';
import { isAbsolute, resolve } from 'node:path';
import { promisify } from 'node:util';
import { KubeConfigError } from './kube-connection.js';

const run = promisify(execFile);

/** A kubeconfig user's `exec` stanza: a client-go credential plugin (e.g. `aws eks get-token`). */
export interface ExecPlugin {
  readonly apiVersion: string;
  readonly command: string;
  readonly args?: readonly string[];
  readonly env?: readonly { name: string; value: string }[];
}

/** Fetch a new token this long before the plugin's own expiry. */
const EXPIRY_MARGIN_MS = 30_000;

/**
 * Bearer tokens from a credential plugin, run the way kubectl runs it (the `ExecCredential` protocol): the
 * plugin gets `KUBERNETES_EXEC_INFO` and prints an `ExecCredential` whose `status.token` is used until
 * `status.expirationTimestamp`. Concurrent callers share one run. A plugin that answers with a client
 * certificate instead of a token is refused with a clear error. `fresh` runs the plugin again whatever the expiry
 * (the API server refused the token).
 */
export function execCredentialToken(
  plugin: ExecPlugin,
  kubeconfigDir: string,
): (fresh?: boolean) => Promise<string> {
  // kubectl: a command with a path separator is relative to the kubeconfig's folder; a bare name is on PATH.
  const command =
    plugin.command.includes('/') && !isAbsolute(plugin.command)
      ? resolve(kubeconfigDir, plugin.command)
      : plugin.command;
  let current: { token: string; expiresAt: number } | undefined;
  let pending: Promise<string> | undefined;

  async function fetchToken(): Promise<string> {
    const env = {
      ...process.env,
      ...Object.fromEntries((plugin.env ?? []).map(({ name, value }) => [name, value])),
      KUBERNETES_EXEC_INFO: JSON.stringify({
        apiVersion: plugin.apiVersion,
        kind: 'ExecCredential',
        spec: { interactive: false },
      }),
    };
    let stdout: string;
    try {
      ({ stdout } = await run(command, [...(plugin.args ?? [])], { env, timeout: 30_000 }));
    } catch (error) {
      // The plugin's stderr may hold anything; only its exit is reported.
      const code = (error as { code?: unknown }).code;
      throw new Error(`the credential plugin ${plugin.command} failed (${String(code ?? 'no exit code')})`);
    }
    let status: { token?: unknown; expirationTimestamp?: unknown; clientCertificateData?: unknown };
    try {
      status = (JSON.parse(stdout) as { status?: typeof status }).status ?? {};
    } catch {
      throw new Error(`the credential plugin ${plugin.command} printed no ExecCredential JSON`);
    }
    if (typeof status.token !== 'string' || status.token === '') {
      throw new KubeConfigError(
        status.clientCertificateData
          ? `the credential plugin ${plugin.command} returns a client certificate; only token plugins are supported`
          : `the credential plugin ${plugin.command} returned no status.token`,
      );
    }
    const expires =
      typeof status.expirationTimestamp === 'string' ? Date.parse(status.expirationTimestamp) : Number.NaN;
    current = {
      token: status.token,
      expiresAt: Number.isFinite(expires) ? expires - EXPIRY_MARGIN_MS : Number.POSITIVE_INFINITY,
    };
    return status.token;
  }

  return (fresh = false) => {
    if (!fresh && current !== undefined && Date.now() < current.expiresAt)
      return Promise.resolve(current.token);
    pending ??= fetchToken().finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
