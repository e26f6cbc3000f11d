import { readFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect } from 'node:net';

import { load } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';
import { tempDir } from '../support/temp-dir.js';

const BODY_BYTES = 25 * 1024 * 1024;
const PARALLEL = 50;

/** The memory the Knative Service requests for the function, as `knative/service.yaml` says. */
function memoryRequestBytes(): number {
  const service = load(readFileSync(new URL('../../knative/service.yaml', import.meta.url), 'utf8')) as {
    spec: { template: { spec: { containers: { resources: { requests: { memory: string } } }[] } } };
  };
  const text = service.spec.template.spec.containers[0]?.resources.requests.memory ?? '';
  const match = /^(\d+)(Mi|Gi)$/.exec(text);
  if (!match) throw new Error(`unexpected memory request ${text}`);
  return Number(match[1]) * (match[2] === 'Gi' ? 1024 ** 3 : 1024 ** 2);
}

/** VmRSS (now) and VmHWM (the peak so far) of a process, in bytes, from Linux's /proc. */
function memoryOf(pid: number): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (field: string) => Number(new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status)?.[1]) * 1024;
  return { rss: kib('VmRSS'), peak: kib('VmHWM') };
}

/**
 * Sends a 25 MB body the way an attacker would, as fast as the server takes it, from one reused 64 KiB buffer
 * (the client holds no 25 MB), and stops once it has read the answer; resolves with the status, or 0 when the
 * connection closed before the answer was read.
 */
function send(url: string, headers: Record<string, string>, chunked: boolean): Promise<number> {
  const chunk = Buffer.alloc(64 * 1024, 0x20);
  return new Promise((resolve) => {
    const req = request(`${url}/webhook`, {
      method: 'POST',
      agent: false,
      headers: {
        'content-type': 'application/json',
        ...(chunked ? {} : { 'content-length': String(BODY_BYTES) }),
        ...headers,
      },
    });
    let status = 0;
    let sent = 0;
    const pump = () => {
      while (sent < BODY_BYTES && !req.destroyed) {
        sent += chunk.length;
        if (!req.write(chunk)) return void req.once('drain', pump);
      }
      if (!req.destroyed) req.end();
    };
    req.on('response', (response) => {
      status = response.statusCode ?? 0;
      response.resume();
      response.on('end', () => {
        req.destroy();
        resolve(status);
      });
    });
    req.on('error', () => resolve(status));
    req.on('close', () => resolve(status));
    pump();
  });
}

describe('unauthenticated 25 MB bodies (#19 item 1)', () => {
  let github: GitHubStandIn;
  let kubernetes: KubernetesStandIn;
  let server: ServerProcess;

  beforeAll(async () => {
    github = await startGitHubStandIn({ token: 'github_pat_11LOAD_0123456789abcdef' });
    kubernetes = await startKubernetesStandIn();
    server = await startServerProcess({
      WEBHOOK_SECRET: 'load-secret',
      GITHUB_TOKEN: 'github_pat_11LOAD_0123456789abcdef',
      GITHUB_API_URL: github.url,
      KUBECONFIG: kubernetes.writeKubeconfig(tempDir('load')),
      NAMESPACE: 'default',
      LOG_LEVEL: 'warn',
    });
  });
  afterAll(async () => {
    await server?.stop();
    await github?.close();
    await kubernetes?.close();
  });

  it(`keep the process under the Service's memory request, ${PARALLEL} at once`, async () => {
    const pid = server.process.pid as number;
    const limit = memoryRequestBytes();
    const before = memoryOf(pid);
    const wrong = `sha256=${'0'.repeat(64)}`;
    const rounds: [string, Record<string, string>, boolean, number][] = [
      ['no signature header', {}, false, 401],
      ['a malformed signature header', { 'x-hub-signature-256': 'sha256=00' }, false, 401],
      ['a well-formed wrong signature, declared 25 MB', { 'x-hub-signature-256': wrong }, false, 413],
      ['a well-formed wrong signature, chunked', { 'x-hub-signature-256': wrong }, true, 413],
    ];
    const report: string[] = [];
    for (const [what, headers, chunked, expected] of rounds) {
      const started = Date.now();
      const statuses = await Promise.all(
        Array.from({ length: PARALLEL }, () => send(server.url, headers, chunked)),
      );
      const after = memoryOf(pid);
      report.push(
        `${what}: ${Date.now() - started} ms, RSS ${(after.rss / 2 ** 20).toFixed(0)} MiB, peak ${(after.peak / 2 ** 20).toFixed(0)} MiB`,
      );
      // Every sender read its answer: the server drains a refused body before it closes the connection
      // (lingering-close.ts) instead of resetting it under a sender that is still writing.
      expect(statuses, what).toEqual(Array.from({ length: PARALLEL }, () => expected));
    }
    const peak = memoryOf(pid).peak;
    process.stdout.write(
      `RSS at start ${(before.rss / 2 ** 20).toFixed(0)} MiB; memory request ${(limit / 2 ** 20).toFixed(0)} MiB\n${report.join('\n')}\n`,
    );
    expect(peak).toBeLessThan(limit);
    // The function is still there and answers.
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  }, 90_000);

  it('closes a connection whose body stalls, well within the 8 s delivery budget (#19 item 10)', async () => {
    const { port } = new URL(server.url);
    const started = Date.now();
    const answer = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(port), '127.0.0.1', () => {
        // Headers and 10 of the 1,000 bytes announced, then nothing: a slowloris sender.
        socket.write(
          'POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n' +
            `Content-Length: 1000\r\nX-Hub-Signature-256: sha256=${'0'.repeat(64)}\r\n\r\n{"action":`,
        );
      });
      let received = '';
      socket.on('data', (data) => {
        received += data.toString();
      });
      socket.on('close', () => resolve(received));
      socket.on('error', reject);
      // Fails the test instead of hanging when nothing closes the connection.
      setTimeout(() => socket.destroy(new Error('still open after 15 s')), 15_000).unref();
    });
    const elapsed = Date.now() - started;
    expect(answer).toMatch(/^HTTP\/1\.1 408 /);
    expect(elapsed).toBeLessThan(8000);
    expect((await fetch(`${server.url}/health`)).status).toBe(200);
  }, 20_000);
});
