/**
 * `npm run bench`: cold start, warm throughput, burst and memory of the built function, each against floors
 * measured in the same run on the same machine, with instant loopback stand-ins of GitHub and the Kubernetes API
 * (in a process of their own, `bench/stand-ins-process.ts`). The main floor is the *strict floor*
 * (`bench/floor-strict.mjs`): plain `node:http`, the HMAC, the four calls a runner needs through a keep-alive
 * agent, nothing else. Every runtime in BENCH_NODES (by default this Node.js and the machine's own `node`, when
 * that is another version) gets a table of its own: the whole bench runs again on it.
 * Prints tables (medians over BENCH_RUNS runs); exits non-zero if the settings or the harness itself fail.
 * BENCH_FUNCTION_NODE_OPTIONS adds V8/Node flags to the function's (to measure one before adopting it).
 *
 * Longer than 250 lines on purpose: every section and its floor side by side, so each ratio is read in one place.
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { accessSync, constants, mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { loadAll } from 'js-yaml';
import { BUNDLE, buildBundle, FUNCTION_BUNDLE, OUTFILE } from '../scripts/build.js';
import { ENTRY_ENV, NODE_FLAGS } from '../scripts/dist-paths.js';
import { warmCodeCache } from '../scripts/warm-code-cache.js';
import { loadConfig } from '../shared/config/load-config.js';
import { buildRecordJob } from '../shared/records/build-record-job.js';
import { queuedPayload, signedDelivery } from '../stand-ins/payloads.js';
import { freePort } from '../stand-ins/server-process.js';
import { BenchOptionsError, parseBenchOptions } from './bench-options.js';
import type { StandInsCommand, StandInsReady } from './stand-ins-process.js';
import { measureTlsCalls } from './tls-calls.js';

let options: ReturnType<typeof parseBenchOptions>;
try {
  options = parseBenchOptions(process.env);
} catch (error) {
  if (!(error instanceof BenchOptionsError)) throw error;
  process.stderr.write(`npm run bench: ${error.problems.join('\n  ')}\n`);
  process.exit(2);
}
const RUNS = options.runs;
const SECTIONS = options.sections;
const SECRET = 'bench-webhook-secret';
const TOKEN = 'github_pat_bench';
/** The calls the strict floor makes per delivery: job status, Job, JIT registration, Secret. */
const STRICT_FLOOR_CALLS = 4;
/**
 * Deliveries come from many owners, each with a credential (and so a share of GitHub's limits) of its own: at 900
 * points a minute per credential and endpoint, a JIT registration costing 5, one credential starts 180 runners a
 * minute and the rest of a burst waits (recorded, paced, answered 202), which is not what the bench measures. Each
 * run of 50 consecutive deliveries has one owner, the next run the next owner: only the owners of the moment are
 * active (each reads its pause, a Lease, once a second), every owner is in use by the 10,000th delivery (so the
 * memory section's 10,000 -> 20,000 compares like with like), and none has more than 100 (500 points) in a
 * server's life (at most 20,000 deliveries).
 */
const OWNERS = Array.from({ length: 200 }, (_, i) => `bench-owner-${i}`);
const PER_OWNER = 50;
let nextDelivery = 0;
const here = (file: string) => fileURLToPath(new URL(file, import.meta.url));
const floorServer = here('./floor-server.mjs');
const floorHandler = here('./floor-handler.mjs');
const floorStrict = here('./floor-strict.mjs');
const floorHonoSource = here('./floor-hono.ts');
const standInsScript = here('./stand-ins-process.ts');

let standIns: ChildProcess;
let urls: StandInsReady;
let nextJobId = 1_000_000;
let nextCommand = 0;

/** Sends a command to the stand-ins' process and resolves with its answer. */
function ask(
  command:
    | { op: 'addJobs'; jobs: { repository: string; job: Record<string, unknown> }[] }
    | { op: 'jobCount' }
    | { op: 'callCount' },
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
  const payloads = Array.from({ length: count }, () => {
    const owner = OWNERS[Math.floor(nextDelivery++ / PER_OWNER) % OWNERS.length] ?? 'bench-owner-0';
    return queuedPayload({ jobId: nextJobId++, owner });
  });
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
    GITHUB_TOKENS: OWNERS.map((owner) => `${owner}=${TOKEN}`).join(','),
    // One instance: the whole of each credential's documented limits.
    GITHUB_LIMIT_INSTANCES: '1',
    GITHUB_API_URL: urls.githubUrl,
    KUBECONFIG: urls.kubeconfig,
    RUNNER_MODE: 'standard',
    LOG_LEVEL: 'silent',
    // As the image runs it.
    ...ENTRY_ENV,
    ...(process.env.BENCH_FUNCTION_NODE_OPTIONS
      ? { NODE_OPTIONS: process.env.BENCH_FUNCTION_NODE_OPTIONS }
      : {}),
  };
}

/**
 * The runner Job the function makes for a queued job (standard mode, unsuspended, no claim), with `__NAME__` where
 * its name goes: the strict floor sends the same Job, so that the calls compared are the same calls.
 */
function writeJobTemplate(): string {
  const config = loadConfig({ WEBHOOK_SECRET: SECRET, GITHUB_TOKEN: TOKEN, RUNNER_MODE: 'standard' });
  const profile = config.profiles[0];
  if (profile === undefined) throw new Error('no runner profile');
  const job = buildRecordJob(config, profile, {
    owner: 'Codertocat',
    repo: 'Hello-World',
    jobId: 424242,
    runId: 1,
    runAttempt: 1,
    deliveryId: 'delivery',
    hookId: undefined,
    installationId: undefined,
    jobLabels: ['self-hosted', 'linux'],
  });
  const text = JSON.stringify({ ...job, spec: { ...job.spec, suspend: false } }).replaceAll(
    'runner-424242',
    '__NAME__',
  );
  const file = join(mkdtempSync(join(tmpdir(), 'kar-bench-job-')), 'job.json');
  writeFileSync(file, text);
  return file;
}
const jobTemplate = writeJobTemplate();

/** What the handler floors need: where the stand-ins are, and the Job to create. */
function floorEnv(port: number): Record<string, string> {
  return {
    FLOOR_JOB_TEMPLATE: jobTemplate,
    PATH: process.env.PATH ?? '',
    PORT: String(port),
    WEBHOOK_SECRET: SECRET,
    GITHUB_API_URL: urls.githubUrl,
    GITHUB_TOKEN: TOKEN,
    K8S_URL: urls.kubernetesUrl,
  };
}

/** Starts a server script; the function as its image runs it, with the entry's V8 flags. */
function start(script: string, env: Record<string, string>): ChildProcess {
  const flags = script === OUTFILE ? NODE_FLAGS : [];
  return spawn(process.execPath, [...flags, script], { env, stdio: ['ignore', 'ignore', 'inherit'] });
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

/**
 * Process start -> the first queued delivery answered with its Job created: the wall time, and the CPU time the
 * process used until then (which a loaded machine does not inflate).
 */
async function coldWebhook(
  script: string,
  env: (port: number) => Record<string, string>,
): Promise<{ wall: number; cpu: number }> {
  const port = await freePort();
  const [first] = await deliveries(1);
  if (first === undefined) throw new Error('no delivery');
  const started = performance.now();
  const child = start(script, env(port));
  const webhook = await until(started, async () => {
    const response = await fetch(`http://127.0.0.1:${port}/webhook`, {
      method: 'POST',
      headers: first.headers,
      body: first.body,
    });
    return response.status === 200 && ((await response.json()) as { outcome?: string }).outcome === 'created';
  });
  const cpu = cpuOf(child.pid);
  await stop(child);
  return { wall: webhook, cpu };
}

/** Process start -> `/health` answers, in a run of its own so it is not inflated by webhook attempts. */
async function coldHealth(): Promise<number> {
  const port = await freePort();
  const started = performance.now();
  const child = start(OUTFILE, functionEnv(port));
  const health = await until(started, async () => (await fetch(`http://127.0.0.1:${port}/health`)).ok);
  await stop(child);
  return health;
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
  work: (url: string, child: ChildProcess) => Promise<T>,
) {
  const child = start(script, env);
  const url = `http://127.0.0.1:${env.PORT}`;
  await until(performance.now(), async () => (await fetch(`${url}/health`)).status < 500);
  try {
    return await work(url, child);
  } finally {
    await stop(child);
  }
}

/** Resident memory (VmRSS) and its peak so far (VmHWM) of a process, in MiB. */
function memoryOf(pid: number | undefined): { rss: number; peak: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string) => Number(new RegExp(`${name}:\\s+(\\d+)`).exec(status)?.[1]) / 1024;
  return { rss: field('VmRSS'), peak: field('VmHWM') };
}

/** CPU time (user + system) a process has used so far, in ms: robust to a loaded machine, unlike wall time. */
function cpuOf(pid: number | undefined): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8')
    .replace(/^.*\) /, '')
    .split(' ');
  // utime and stime, fields 14 and 15 of proc(5), counted from the state (field 3) here.
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS;
}
const CLOCK_TICKS = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

/** The memory request and limit of the function's Knative Service (knative/service.yaml), in MiB. */
function serviceMemory(): { request: number; limit: number } {
  const mebibytes = (value: unknown) => {
    const match = /^(\d+)Mi$/.exec(String(value));
    if (!match) throw new Error(`knative/service.yaml: memory ${String(value)} is not in Mi`);
    return Number(match[1]);
  };
  const documents = loadAll(readFileSync(here('../knative/service.yaml'), 'utf8')) as {
    kind?: string;
    spec?: { template?: { spec?: { containers?: { resources?: Record<string, { memory?: string }> }[] } } };
  }[];
  const resources = documents.find((document) => document?.kind === 'Service')?.spec?.template?.spec
    ?.containers?.[0]?.resources;
  return { request: mebibytes(resources?.requests?.memory), limit: mebibytes(resources?.limits?.memory) };
}

type Row = [string, string, string, string];
const ms = (value: number) => `${value.toFixed(0)} ms`;
const mib = (value: number) => `${value.toFixed(0)} MiB`;
const range = (values: number[], format: (value: number) => string) =>
  values.length < 2
    ? format(values[0] ?? Number.NaN)
    : `${format(median(values))} (${format(Math.min(...values))}-${format(Math.max(...values))})`;
const met = (ok: boolean) => (ok ? 'met' : 'NOT met');

async function coldSection(rows: Row[]) {
  const honoFloor = join(mkdtempSync(join(tmpdir(), 'kar-bench-hono-')), 'floor-hono.cjs');
  await build({ ...FUNCTION_BUNDLE, entryPoints: [floorHonoSource], outfile: honoFloor, sourcemap: false });
  const floors: number[] = [];
  const strictFloors: number[] = [];
  const strictCpus: number[] = [];
  const cpus: number[] = [];
  const honoFloors: number[] = [];
  const healths: number[] = [];
  const webhooks: number[] = [];
  for (let run = 0; run < RUNS; run += 1) {
    floors.push(await coldFloor());
    const strictRun = await coldWebhook(floorStrict, floorEnv);
    strictFloors.push(strictRun.wall);
    strictCpus.push(strictRun.cpu);
    honoFloors.push(await coldFloor(honoFloor));
    const fnRun = await coldWebhook(OUTFILE, functionEnv);
    webhooks.push(fnRun.wall);
    cpus.push(fnRun.cpu);
    healths.push(await coldHealth());
  }
  const strict = median(strictFloors);
  const floor = median(floors);
  const ratio = median(webhooks) / strict;
  rows.push([
    'cold start -> first webhook handled (Job created)',
    ms(median(webhooks)),
    `${ms(strict)} strict`,
    `${ratio.toFixed(2)}x (target <= 1.1x: ${met(ratio <= 1.1)})`,
  ]);
  const cpuRatio = median(cpus) / median(strictCpus);
  rows.push([
    '  CPU time of the process until then',
    range(cpus, ms),
    `${range(strictCpus, ms)} strict`,
    `${cpuRatio.toFixed(2)}x (target <= 1.1x: ${met(cpuRatio <= 1.1)})`,
  ]);
  // The same without the V8 code cache, to show what it buys.
  renameSync(`${BUNDLE}.cache`, `${BUNDLE}.cache.off`);
  const uncached: number[] = [];
  for (let run = 0; run < RUNS; run += 1) uncached.push((await coldWebhook(OUTFILE, functionEnv)).cpu);
  renameSync(`${BUNDLE}.cache.off`, `${BUNDLE}.cache`);
  rows.push([
    '  CPU time without the V8 code cache',
    range(uncached, ms),
    `${ms(median(strictCpus))} strict`,
    `${(median(uncached) / median(strictCpus)).toFixed(2)}x`,
  ]);
  rows.push([
    'cold start -> /health answers',
    ms(median(healths)),
    `${ms(floor)} plain`,
    `${(median(healths) / floor).toFixed(2)}x (plain node:http, first answer)`,
  ]);
  rows.push([
    '  reference: bare Hono on @hono/node-server, first answer',
    ms(median(honoFloors)),
    `${ms(floor)} plain`,
    `${(median(honoFloors) / floor).toFixed(2)}x`,
  ]);
}

async function warmSection(rows: Row[], ceiling: number | undefined) {
  const target = ceiling === undefined ? '' : ` (ceiling ${ceiling.toFixed(2)}x)`;
  for (const concurrency of [1, 10, 100]) {
    const count = concurrency === 1 ? 500 : 2000;
    const fnRuns = [];
    const strictRuns = [];
    const fetchRuns = [];
    for (let run = 0; run < Math.max(1, Math.floor(RUNS / 2)); run += 1) {
      const work = (url: string) => load(url, count, concurrency);
      strictRuns.push(await withServer(floorStrict, floorEnv(await freePort()), work));
      fetchRuns.push(await withServer(floorHandler, floorEnv(await freePort()), work));
      fnRuns.push(await withServer(OUTFILE, functionEnv(await freePort()), work));
    }
    const fnRate = median(fnRuns.map((r) => r.perSecond));
    const strictRate = median(strictRuns.map((r) => r.perSecond));
    const fetchRate = median(fetchRuns.map((r) => r.perSecond));
    const failures = fnRuns.reduce((sum, r) => sum + r.failures, 0);
    rows.push([
      `warm throughput, ${concurrency} concurrent (${count} deliveries)`,
      `${fnRate.toFixed(0)}/s${failures ? ` (${failures} failed)` : ''}`,
      `${strictRate.toFixed(0)}/s strict`,
      `${(fnRate / strictRate).toFixed(2)}x${target}`,
    ]);
    rows.push([
      '  against node:http + fetch (undici), five calls',
      '',
      `${fetchRate.toFixed(0)}/s`,
      `${(fnRate / fetchRate).toFixed(2)}x`,
    ]);
    const fnP99 = median(fnRuns.map((r) => r.p99));
    const strictP99 = median(strictRuns.map((r) => r.p99));
    rows.push([`  p99 latency, ${concurrency} concurrent`, ms(fnP99), `${ms(strictP99)} strict`, '']);
  }
}

/**
 * 1,000 distinct deliveries at once, to the strict floor and to the function, RUNS times each. Returns the
 * function's upstream calls per delivery (counted by the stand-ins), which set the throughput ceiling.
 */
async function burstSection(rows: Row[], limitMiB: number): Promise<number> {
  const count = 1000;
  const floor = { seconds: [] as number[], rss: [] as number[], calls: [] as number[], cpu: [] as number[] };
  const fn = {
    seconds: [] as number[],
    rss: [] as number[],
    peak: [] as number[],
    calls: [] as number[],
    cpu: [] as number[],
  };
  let failures = 0;
  let missingJobs = 0;
  for (let run = 0; run < RUNS; run += 1) {
    for (const side of ['floor', 'function'] as const) {
      const [script, env] = side === 'floor' ? [floorStrict, floorEnv] : [OUTFILE, functionEnv];
      await withServer(script, env(await freePort()), async (url, child) => {
        const jobsBefore = await ask({ op: 'jobCount' });
        const callsBefore = await ask({ op: 'callCount' });
        const cpuBefore = cpuOf(child.pid);
        const result = await load(url, count, count);
        const cpu = (cpuOf(child.pid) - cpuBefore) / count;
        const calls = ((await ask({ op: 'callCount' })) - callsBefore) / count;
        const memory = memoryOf(child.pid);
        if (side === 'floor') {
          floor.seconds.push(result.seconds);
          floor.rss.push(memory.rss);
          floor.calls.push(calls);
          floor.cpu.push(cpu);
          return;
        }
        fn.seconds.push(result.seconds);
        fn.rss.push(memory.rss);
        fn.peak.push(memory.peak);
        fn.calls.push(calls);
        fn.cpu.push(cpu);
        failures += result.failures;
        missingJobs += count - ((await ask({ op: 'jobCount' })) - jobsBefore);
      });
    }
  }
  const calls = Math.max(...fn.calls);
  const ceiling = STRICT_FLOOR_CALLS / calls;
  const throughput = median(floor.seconds) / median(fn.seconds);
  const rssRatio = median(fn.rss) / median(floor.rss);
  rows.push([
    'upstream calls per queued delivery',
    `${calls.toFixed(1)}`,
    `${median(floor.calls).toFixed(1)} strict`,
    `ceiling ${ceiling.toFixed(2)}x at equal cost per call`,
  ]);
  rows.push([
    `burst: ${count.toLocaleString('en')} deliveries at once, wall`,
    range(fn.seconds, (s) => ms(s * 1000)),
    `${range(floor.seconds, (s) => ms(s * 1000))} strict`,
    `${throughput.toFixed(2)}x throughput (target >= ${ceiling.toFixed(2)}x: ${met(throughput >= ceiling - 0.005)})`,
  ]);
  const cpuRatio = median(floor.cpu) / median(fn.cpu);
  rows.push([
    '  CPU time per delivery (user + system)',
    range(fn.cpu, (value) => `${value.toFixed(2)} ms`),
    `${range(floor.cpu, (value) => `${value.toFixed(2)} ms`)} strict`,
    `${cpuRatio.toFixed(2)}x deliveries per CPU second (ceiling ${ceiling.toFixed(2)}x: ${met(cpuRatio >= ceiling - 0.005)})`,
  ]);
  rows.push([
    '  answered',
    `${RUNS * count - failures}/${RUNS * count} 2xx`,
    '',
    `${RUNS * count - missingJobs}/${RUNS * count} Jobs created`,
  ]);
  rows.push([
    '  RSS after the burst',
    range(fn.rss, mib),
    `${range(floor.rss, mib)} strict`,
    `${rssRatio.toFixed(2)}x (target <= 1.2x: ${met(rssRatio <= 1.2)})`,
  ]);
  rows.push([
    '  peak RSS during the burst',
    range(fn.peak, mib),
    `${mib(limitMiB / 2)} half limit`,
    `target < half the memory limit: ${met(Math.max(...fn.peak) < limitMiB / 2)}`,
  ]);
  return calls;
}

async function memorySection(rows: Row[], requestMiB: number) {
  const port = await freePort();
  await withServer(OUTFILE, functionEnv(port), async (url, child) => {
    const afterStart = memoryOf(child.pid).rss;
    // RSS after each 5,000 deliveries: V8 grows its heap for a while before it settles, so the later checkpoints
    // show whether it has (a leak keeps growing).
    const rss: number[] = [];
    for (let round = 0; round < 4; round += 1) {
      await load(url, 5000, 50);
      rss.push(memoryOf(child.pid).rss);
    }
    const [at5, at10, at15, at20] = rss as [number, number, number, number];
    const growth = ((at20 - at10) / at10) * 100;
    rows.push(['RSS after start', mib(afterStart), '', '']);
    rows.push([
      'RSS after 5,000 / 10,000 deliveries',
      `${at5.toFixed(0)} / ${mib(at10)}`,
      `${mib(requestMiB)} request`,
      `target 10,000 <= memory request: ${met(at10 <= requestMiB)}`,
    ]);
    rows.push([
      'RSS after 15,000 / 20,000 deliveries',
      `${at15.toFixed(0)} / ${mib(at20)}`,
      '',
      `${growth >= 0 ? '+' : ''}${growth.toFixed(1)}% from 10,000 to 20,000 (target flat, <= 5%: ${met(growth <= 5)})`,
    ]);
  });
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

/** This Node.js and the machine's own `node` (the first on PATH outside node_modules), or BENCH_NODES. */
function runtimes(): string[] {
  if (process.env.BENCH_NODES) return process.env.BENCH_NODES.split(',').filter((path) => path !== '');
  const version = (node: string) => execFileSync(node, ['--version'], { encoding: 'utf8' }).trim();
  const machine = (process.env.PATH ?? '')
    .split(delimiter)
    .filter((folder) => folder !== '' && !folder.includes('node_modules'))
    .map((folder) => join(folder, 'node'))
    .find((path) => {
      try {
        accessSync(path, constants.X_OK);
        return true;
      } catch {
        return false;
      }
    });
  // This runtime last, so that the code cache left in dist/ is the one `npm start` can use.
  return machine === undefined || version(machine) === process.version
    ? [process.execPath]
    : [machine, process.execPath];
}

/** Runs the bench once per runtime, each in a process of its own on that runtime. */
async function eachRuntime(nodes: string[]): Promise<void> {
  for (const node of nodes) {
    const code = await new Promise<number | null>((resolve) => {
      spawn(node, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
        env: { ...process.env, BENCH_RUNTIME: node },
        stdio: 'inherit',
      }).once('exit', resolve);
    });
    if (code !== 0) throw new Error(`the bench on ${node} exited with ${code}`);
  }
}

async function main() {
  if (process.env.BENCH_RUNTIME === undefined) {
    const nodes = runtimes();
    if (nodes.length > 1 || nodes[0] !== process.execPath) return eachRuntime(nodes);
  }
  const built = performance.now();
  await buildBundle();
  await warmCodeCache();
  process.stdout.write(
    `${process.version}: bundle built and code cache warmed in ${Math.round(performance.now() - built)} ms\n`,
  );
  urls = await startStandIns();
  const memory = serviceMemory();
  const rows: Row[] = [];

  if (SECTIONS.has('cold')) await coldSection(rows);
  const calls = SECTIONS.has('burst') ? await burstSection(rows, memory.limit) : undefined;
  if (SECTIONS.has('warm'))
    await warmSection(rows, calls === undefined ? undefined : STRICT_FLOOR_CALLS / calls);
  if (SECTIONS.has('memory')) await memorySection(rows, memory.request);
  if (SECTIONS.has('tls')) await tlsSection(rows);
  standIns.removeAllListeners('exit');
  standIns.disconnect();
  const widths = [0, 1, 2, 3].map((i) =>
    Math.max(...[['measure', 'function', 'floor', 'ratio'], ...rows].map((row) => row[i]?.length ?? 0)),
  );
  const line = (row: string[]) => row.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join('  ');
  process.stdout.write(
    `\nNode ${process.version}, ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, medians of ${RUNS} runs\n\n${line(['measure', 'function', 'floor', 'ratio'])}\n${rows.map(line).join('\n')}\n\n`,
  );
}

main().catch((error: unknown) => {
  process.stderr.write(`bench harness failed: ${(error as Error).stack ?? String(error)}\n`);
  process.exit(1);
});
