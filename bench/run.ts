/**
 * `npm run bench`: cold start, warm throughput, burst and memory of the built function, each against a floor
 * measured in the same run on the same machine, with instant loopback stand-ins of GitHub and the Kubernetes API
 * (in a process of their own, `bench/stand-ins-process.ts`).
 * Prints a table (medians over BENCH_RUNS runs); exits non-zero only if the harness itself fails.
 *
 * Longer than 250 lines on purpose: every section and its floor side by side, so each ratio is read in one place.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, renameSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { BUNDLE, buildBundle, FUNCTION_BUNDLE, OUTFILE } from '../scripts/build.js';
import { warmCodeCache } from '../scripts/warm-code-cache.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { freePort } from '../stand-ins/server-process.js';
import type { StandInsCommand, StandInsReady } from './stand-ins-process.js';
import { measureTlsCalls } from './tls-calls.js';

const RUNS = Number(process.env.BENCH_RUNS ?? 5);
/** Which parts to run (`BENCH_SECTIONS=cold,warm,burst,memory,tls`); all by default. */
const SECTIONS = new Set((process.env.BENCH_SECTIONS ?? 'cold,warm,burst,memory,tls').split(','));
const SECRET = 'bench-webhook-secret';
const TOKEN = 'github_pat_bench';
const floorServer = fileURLToPath(new URL('./floor-server.mjs', import.meta.url));
const floorHandler = fileURLToPath(new URL('./floor-handler.mjs', import.meta.url));
const floorHonoSource = fileURLToPath(new URL('./floor-hono.ts', import.meta.url));

const standInsScript = fileURLToPath(new URL('./stand-ins-process.ts', import.meta.url));

let standIns: ChildProcess;
let urls: StandInsReady;
let nextJobId = 1_000_000;
let nextCommand = 0;

/** Sends a command to the stand-ins' process and resolves with its answer. */
function ask(
  command:
    | { op: 'addJobs'; jobs: { repository: string; job: Record<string, unknown> }[] }
    | { op: 'jobCount' },
) {
  const id = nextCommand++;
  return new Promise<number>((resolve) => {
    const onMessage = (message: { id?: number; result?: number }) => {
      if (message.id !== id) return;
      standIns.off('message', onMessage);
      resolve(message.result ?? 0);
    };
    standIns.on('message', onMessage);
    standIns.send({ ...command, id } satisfies StandInsCommand);
  });
}

async function startStandIns(): Promise<StandInsReady> {
  standIns = spawn(process.execPath, ['--import', 'tsx', standInsScript], {
    env: { ...process.env, BENCH_GITHUB_TOKEN: TOKEN },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  return new Promise((resolve, reject) => {
    standIns.once('exit', (code) => reject(new Error(`the stand-ins exited (${code})`)));
    standIns.once('message', (message: { ready: StandInsReady }) => resolve(message.ready));
  });
}

const median = (values: number[]) =>
  [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? Number.NaN;
const percentile = (values: number[], p: number) =>
  [...values].sort((a, b) => a - b)[Math.min(values.length - 1, Math.floor(values.length * p))] ?? Number.NaN;

/** `count` signed queued deliveries of distinct jobs, each known to the GitHub stand-in as queued. */
async function deliveries(count: number) {
  const payloads = Array.from({ length: count }, () => queuedPayload({ jobId: nextJobId++ }));
  await ask({
    op: 'addJobs',
    jobs: payloads.map((payload) => ({
      repository: payload.repository.full_name,
      job: payload.workflow_job,
    })),
  });
  return Promise.all(payloads.map((payload) => signedDelivery(payload, SECRET)));
}

function functionEnv(port: number): Record<string, string> {
  return {
    PATH: process.env.PATH ?? '',
    HOME: process.env.HOME ?? '/tmp',
    PORT: String(port),
    HOST: '127.0.0.1',
    WEBHOOK_SECRET: SECRET,
    GITHUB_TOKEN: TOKEN,
    GITHUB_API_URL: urls.githubUrl,
    KUBECONFIG: urls.kubeconfig,
    RUNNER_MODE: 'standard',
    LOG_LEVEL: 'silent',
  };
}

function start(script: string, env: Record<string, string>): ChildProcess {
  return spawn(process.execPath, [script], { env, stdio: ['ignore', 'ignore', 'inherit'] });
}

async function stop(child: ChildProcess) {
  if (child.exitCode !== null) return;
  await new Promise((resolve) => {
    child.once('exit', resolve);
    child.kill('SIGKILL');
  });
}

/** Polls until `attempt` resolves true; returns ms since `started`. */
async function until(started: number, attempt: () => Promise<boolean>): Promise<number> {
  for (;;) {
    try {
      if (await attempt()) return performance.now() - started;
    } catch {
      // not listening yet
    }
    await new Promise((resolve) => setTimeout(resolve, 2));
  }
}

/** Process start -> first answer of a server script that answers `GET /`. */
async function coldFloor(script = floorServer): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = start(script, { PORT: String(port) });
  const ms = await until(started, async () => (await fetch(`http://127.0.0.1:${port}/`)).ok);
  await stop(child);
  return ms;
}

async function coldFunction(): Promise<{ health: number; webhook: number }> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const started = performance.now();
  const child = start(OUTFILE, functionEnv(port));
  const [first] = await deliveries(1);
  if (first === undefined) throw new Error('no delivery');
  const webhook = await until(started, async () => {
    const response = await fetch(`${url}/webhook`, {
      method: 'POST',
      headers: first.headers,
      body: first.body,
    });
    return response.status === 200 && ((await response.json()) as { outcome?: string }).outcome === 'created';
  });
  await stop(child);
  // Time to /health, in a run of its own so it is not inflated by the webhook attempts.
  const healthStarted = performance.now();
  const again = start(OUTFILE, functionEnv(port));
  const health = await until(healthStarted, async () => (await fetch(`${url}/health`)).ok);
  await stop(again);
  return { health, webhook };
}

async function load(url: string, count: number, concurrency: number) {
  const items = await deliveries(count);
  const latencies: number[] = [];
  let failures = 0;
  let next = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) {
        const item = items[next++];
        if (!item) break;
        const t0 = performance.now();
        const response = await fetch(`${url}/webhook`, {
          method: 'POST',
          headers: item.headers,
          body: item.body,
        });
        await response.arrayBuffer();
        latencies.push(performance.now() - t0);
        if (response.status !== 200) failures += 1;
      }
    }),
  );
  const seconds = (performance.now() - started) / 1000;
  return { perSecond: count / seconds, p99: percentile(latencies, 0.99), failures, seconds };
}

async function withServer<T>(
  script: string,
  env: Record<string, string>,
  port: number,
  work: (url: string) => Promise<T>,
) {
  const child = start(script, env);
  const url = `http://127.0.0.1:${port}`;
  await until(performance.now(), async () => (await fetch(`${url}/health`)).status < 500);
  try {
    return await work(url);
  } finally {
    await stop(child);
  }
}

const rssOf = (pid: number) =>
  Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1]) / 1024;

type Row = [string, string, string, string];
const ms = (value: number) => `${value.toFixed(0)} ms`;

async function coldSection(rows: Row[]) {
  const honoFloor = join(mkdtempSync(join(tmpdir(), 'kar-bench-hono-')), 'floor-hono.cjs');
  await build({ ...FUNCTION_BUNDLE, entryPoints: [floorHonoSource], outfile: honoFloor, sourcemap: false });
  const floors: number[] = [];
  const honoFloors: number[] = [];
  const healths: number[] = [];
  const webhooks: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    floors.push(await coldFloor());
    honoFloors.push(await coldFloor(honoFloor));
    const cold = await coldFunction();
    healths.push(cold.health);
    webhooks.push(cold.webhook);
  }
  const floor = median(floors);
  rows.push([
    'cold start -> first webhook handled (Job created)',
    ms(median(webhooks)),
    ms(floor),
    `${(median(webhooks) / floor).toFixed(2)}x (target <= 2.0x)`,
  ]);
  // The same without the V8 code cache, to show what it buys.
  renameSync(`${BUNDLE}.cache`, `${BUNDLE}.cache.off`);
  const uncached: number[] = [];
  for (let run = 0; run < RUNS; run += 1) uncached.push((await coldFunction()).webhook);
  renameSync(`${BUNDLE}.cache.off`, `${BUNDLE}.cache`);
  rows.push([
    '  the same without the V8 code cache',
    ms(median(uncached)),
    ms(floor),
    `${(median(uncached) / floor).toFixed(2)}x`,
  ]);
  rows.push([
    'cold start -> /health answers',
    ms(median(healths)),
    ms(floor),
    `${(median(healths) / floor).toFixed(2)}x`,
  ]);
  rows.push([
    '  reference: bare Hono on @hono/node-server, first answer',
    ms(median(honoFloors)),
    ms(floor),
    `${(median(honoFloors) / floor).toFixed(2)}x`,
  ]);
}

async function warmSection(rows: Row[]) {
  const floorEnv = {
    PATH: process.env.PATH ?? '',
    WEBHOOK_SECRET: SECRET,
    GITHUB_API_URL: urls.githubUrl,
    GITHUB_TOKEN: TOKEN,
    K8S_URL: urls.kubernetesUrl,
  };
  for (const concurrency of [1, 10, 100]) {
    const count = concurrency === 1 ? 500 : 2000;
    const fnRuns = [];
    const floorRuns = [];
    for (let run = 0; run < Math.max(1, Math.floor(RUNS / 2)); run += 1) {
      const floorPort = await freePort();
      floorRuns.push(
        await withServer(floorHandler, { ...floorEnv, PORT: String(floorPort) }, floorPort, (url) =>
          load(url, count, concurrency),
        ),
      );
      const fnPort = await freePort();
      fnRuns.push(
        await withServer(OUTFILE, functionEnv(fnPort), fnPort, (url) => load(url, count, concurrency)),
      );
    }
    const fnRate = median(fnRuns.map((r) => r.perSecond));
    const floorRate = median(floorRuns.map((r) => r.perSecond));
    const failures = fnRuns.reduce((sum, r) => sum + r.failures, 0);
    rows.push([
      `warm throughput, ${concurrency} concurrent (${count} deliveries)`,
      `${fnRate.toFixed(0)}/s${failures ? ` (${failures} failed)` : ''}`,
      `${floorRate.toFixed(0)}/s`,
      `${(fnRate / floorRate).toFixed(2)}x (target >= 0.8x)`,
    ]);
    const added = median(fnRuns.map((r) => r.p99)) - median(floorRuns.map((r) => r.p99));
    rows.push([
      `p99 added latency, ${concurrency} concurrent`,
      ms(median(fnRuns.map((r) => r.p99))),
      ms(median(floorRuns.map((r) => r.p99))),
      `+${added.toFixed(1)} ms (target < 2 ms)`,
    ]);
  }
}

async function burstSection(rows: Row[]) {
  const burstPort = await freePort();
  await withServer(OUTFILE, functionEnv(burstPort), burstPort, async (url) => {
    const jobsBefore = await ask({ op: 'jobCount' });
    const result = await load(url, 1000, 1000);
    rows.push([
      'burst: 1,000 deliveries at once',
      `${(result.seconds * 1000).toFixed(0)} ms wall`,
      '-',
      `${1000 - result.failures}/1000 2xx, ${(await ask({ op: 'jobCount' })) - jobsBefore} Jobs`,
    ]);
  });
}

async function memorySection(rows: Row[]) {
  const memoryPort = await freePort();
  const child = start(OUTFILE, functionEnv(memoryPort));
  const url = `http://127.0.0.1:${memoryPort}`;
  await until(performance.now(), async () => (await fetch(`${url}/health`)).ok);
  const afterStart = rssOf(child.pid ?? 0);
  // RSS after each 5,000 deliveries: V8 grows its heap for a while before it settles, so the later checkpoints
  // show whether it has (a leak keeps growing).
  const rss: number[] = [];
  for (let round = 0; round < 4; round += 1) {
    await load(url, 5000, 50);
    rss.push(rssOf(child.pid ?? 0));
  }
  await stop(child);
  const growth = (from: number, to: number) => `${(((to - from) / from) * 100).toFixed(1)}%`;
  const [at5, at10, at15, at20] = rss as [number, number, number, number];
  rows.push(['RSS after start', `${afterStart.toFixed(0)} MB`, '-', '']);
  rows.push([
    'RSS after 5,000 / 10,000 deliveries',
    `${at5.toFixed(0)} / ${at10.toFixed(0)} MB`,
    '-',
    `${growth(at5, at10)} growth (target <= 10%)`,
  ]);
  rows.push([
    'RSS after 15,000 / 20,000 deliveries',
    `${at15.toFixed(0)} / ${at20.toFixed(0)} MB`,
    '-',
    `${growth(at10, at20)} from 10,000 to 20,000`,
  ]);
}

async function tlsSection(rows: Row[]) {
  const tls = await measureTlsCalls();
  if (tls === undefined) {
    rows.push(['Kubernetes API call over TLS', 'skipped', '-', 'no openssl to make a certificate']);
    return;
  }
  rows.push([
    'Kubernetes API call over TLS, one at a time (vs client-node)',
    `${tls.ours.toFixed(2)} ms`,
    `${tls.clientNode.toFixed(2)} ms`,
    `${(tls.clientNode / tls.ours).toFixed(1)}x faster (a new TLS handshake per call there)`,
  ]);
}

async function main() {
  const built = performance.now();
  await buildBundle();
  await warmCodeCache();
  process.stdout.write(`bundle built and code cache warmed in ${Math.round(performance.now() - built)} ms\n`);
  urls = await startStandIns();
  const rows: Row[] = [];

  if (SECTIONS.has('cold')) await coldSection(rows);
  if (SECTIONS.has('warm')) await warmSection(rows);
  if (SECTIONS.has('burst')) await burstSection(rows);
  if (SECTIONS.has('memory')) await memorySection(rows);
  if (SECTIONS.has('tls')) await tlsSection(rows);
  standIns.removeAllListeners('exit');
  standIns.disconnect();
  const widths = [0, 1, 2, 3].map((i) =>
    Math.max(...[['measure', 'function', 'floor', 'ratio'], ...rows].map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(
    `\nNode ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, medians of ${RUNS} runs\n\n${line(['measure', 'function', 'floor', 'ratio'])}\n${rows.map(line).join('\n')}\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench harness failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
