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

/** A free loopback port. */
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

/** Starts the built function (`dist/start.cjs`, what `npm start` runs) and waits until `/health` answers. */
export async function startServerProcess(env: Record<string, string>): Promise<ServerProcess> {
  const port = await freePort();
  const child = spawn(process.execPath, [OUTFILE], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      PORT: String(port),
      HOST: '127.0.0.1',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const output = captureOutput(child);
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 15_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`server exited with ${child.exitCode}: ${output()}`);
    try {
      if ((await fetch(`${url}/health`)).ok) break;
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`server did not become healthy: ${output()}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  // Whole lines only: a line still being written (split across chunks) is not JSON yet.
  const logs = () =>
    output()
      .split('\n')
      .slice(0, -1)
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
  return {
    url,
    process: child,
    output,
    logs,
    logged: (match) =>
      new Promise((resolve, reject) => {
        const accepts = typeof match === 'string' ? (line: Record<string, unknown>) => line.msg === match : match;
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
    env: { PATH: process.env.PATH ?? '', HOME: '/nonexistent', PORT: String(await freePort()), ...env },
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
