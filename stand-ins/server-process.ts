import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { OUTFILE } from '../scripts/dist-paths.js';

export interface ServerProcess {
  readonly url: string;
  readonly process: ChildProcess;
  /** Everything the process wrote to stdout and stderr so far. */
  output(): string;
  /** Parsed JSON log lines so far. */
  logs(): Record<string, unknown>[];
  /**
   * Resolves once the process has written a JSON log line with this `msg`, or one the predicate accepts (at once
   * if it already has). Lines are written asynchronously: one may reach the pipe after the answer it goes with.
   */
  logged(match: string | ((line: Record<string, unknown>) => boolean)): Promise<void>;
  stop(): Promise<number | null>;
}

/**
 * A loopback port that was free a moment ago. Another process may take it before the caller binds it: only for a
 * port that must stay closed, or one a program that cannot take port 0 listens on. The built function takes PORT=0.
 */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : 0));
    });
  });
}

/**
 * Starts the built function (`dist/start.cjs`, what `npm start` runs) on a port the system chooses (PORT=0: no
 * race with other tests for a port picked beforehand), reads the port from its `listening` line (written at every
 * LOG_LEVEL but silent), and waits until `/health` answers.
 */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const child = spawn(process.execPath, [OUTFILE], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: '0',
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  // Whole lines only: a line still being written (split across chunks) is not JSON yet.
  const logs = () =>
    output()
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  const deadline = Date.now() + 15_000;
  const waitOrFail = async (what: string) => {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output()}`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not ${what}: ${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  };
  const listeningPort = () => logs().find((line) => line.msg === 'listening')?.port;
  while (listeningPort() === undefined)
    await waitOrFail('log its listening line (LOG_LEVEL=silent hides it)');
  const port = Number(listeningPort());
  const url = `http://127.0.0.1:${port}`;
  for (;;) {
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not answering yet
    }
    await waitOrFail('become healthy');
  }
  return {
    url,
    process: child,
    output,
    logs,
    logged: (match) =>
      new Promise((resolve, reject) => {
        const accepts =
          typeof match === 'string' ? (line: Record<string, unknown>) => line.msg === match : match;
        const msg = typeof match === 'string' ? match : 'a line the test waits for';
        const check = () => {
          if (!logs().some(accepts)) return;
          child.stdout?.off('data', check);
          child.off('close', exited);
          resolve();
        };
        const exited = () => {
          child.stdout?.off('data', check);
          reject(new Error(`the process exited before logging "${msg}": ${output()}`));
        };
        child.stdout?.on('data', check);
        // 'close', not 'exit': the last lines may still be on their way through the pipe at exit.
        child.once('close', exited);
        check();
      }),
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) return resolve(child.exitCode);
        child.once('exit', (code) => resolve(code));
        child.kill('SIGTERM');
      }),
  };
}

/** Runs the built function to its exit (for configuration errors) and returns its exit code and output. */
export async function runToExit(
  env: Record<string, string>,
  args: readonly string[] = [],
): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [OUTFILE, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', PORT: '0', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  const code = await new Promise<number | null>((resolve) => child.once('exit', resolve));
  return { code, output: output() };
}

/** Collects what a child writes to stdout and stderr; the returned function reads it so far. */
function captureOutput(child: ChildProcess): () => string {
  let output = '';
  const append = (chunk: Buffer) => {
    output += chunk.toString();
  };
  child.stdout?.on('data', append);
  child.stderr?.on('data', append);
  return () => output;
}
