/**
 * A matrix burst within GitHub's limits: 100, 500 and 1,000 queued jobs delivered at once, spread over 5 function
 * processes (LIMITS_PROCESSES; a round-robin balancer stands in for Knative's), sharing one budget per credential
 * (a Lease in the Kubernetes stand-in), against a GitHub stand-in that enforces the
 * documented secondary limits (100 concurrent, 900 points a minute per endpoint with POST = 5; 403 with
 * retry-after when exceeded; every refused request counted) with minutes compressed by LIMITS_TIME_FACTOR (6: a
 * minute lasts 10 s). Runners are simulated as GitHub would see them: once a runner's Job is started, its job runs
 * for a little over a minute and GitHub sends `completed`; reconcile is called every (compressed) minute, records
 * only, again while it says truncated. Printed: burst, the minimum N / allowed rate, the time until the last runner
 * was registered, violations, registrations (more than the burst: made and deleted again). Asserted: every job has
 * exactly one runner, none lost, within 1.2x of the minimum (LIMITS_MAX_RATIO), no violation after the first
 * retry-after. LIMITS_KILL=on kills one process (SIGKILL) a second into each burst: the blocks it held are lost
 * until they expire, never given back. Each burst
 * starts a minute and a half after the one before, GitHub's minute clear of it.
 *
 * LIMITS_BURSTS (100,500,1000), LIMITS_TIME_FACTOR (6, a divisor of 60) and LIMITS_CONTENT=on (80 content-creating
 * calls a minute as well: GitHub does not say whether a JIT registration is content) change the run.
 * LIMITS_STALL_MS holds the calls to GitHub for that long a second into each burst (GitHub receives them late, as
 * from a loaded machine or network). LIMITS_LOG_LEVEL=info writes each instance's log to
 * /tmp/limits-instance-N.log and the calls GitHub saw to /tmp/limits-calls.json; LIMITS_TRACE=on adds each call as
 * the network between instance and GitHub saw it (sent, forwarded, answered, abandoned).
 */
import { mkdtempSync } from 'node:fs';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { afterAll, expect, it } from 'vitest';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../../stand-ins/kubernetes-stand-in.js';
import { completedPayload, queuedPayload } from '../../stand-ins/payloads.js';
import { type ServerProcess, startServerProcess } from '../../stand-ins/server-process.js';

const BURSTS = (process.env.LIMITS_BURSTS ?? '100,500,1000').split(',').map(Number);
const TIME_FACTOR = Number(process.env.LIMITS_TIME_FACTOR ?? 6);
const CONTENT = process.env.LIMITS_CONTENT === 'on';
const STALL_MS = Number(process.env.LIMITS_STALL_MS ?? 0);
const INSTANCES = Number(process.env.LIMITS_PROCESSES ?? 5);
const MAX_RATIO = Number(process.env.LIMITS_MAX_RATIO ?? 1.2);
const KILL = process.env.LIMITS_KILL === 'on';
const MINUTE_MS = 60_000 / TIME_FACTOR;
/** JIT registrations GitHub allows a minute: 900 points / 5, or 80 content-creating calls. */
const ALLOWED_PER_MINUTE = CONTENT ? 80 : 180;
const SECRET = 'limits-webhook-secret';
const TOKEN = 'github_pat_limits';
const RECONCILE_TOKEN = 'limits-reconcile-token';

let github: GitHubStandIn | undefined;
let kubernetes: KubernetesStandIn | undefined;
let instances: ServerProcess[] = [];
let balancer: Server | undefined;
const networks: Server[] = [];
const lag = monitorEventLoopDelay({ resolution: 20 });
lag.enable();

afterAll(async () => {
  if (process.env.LIMITS_LOG_LEVEL) {
    const { writeFileSync } = await import('node:fs');
    for (const [index, instance] of instances.entries()) {
      writeFileSync(`/tmp/limits-instance-${index}.log`, instance.output());
    }
    writeFileSync(
      '/tmp/limits-calls.json',
      JSON.stringify({
        calls: github?.calls ?? [],
        violations: github?.limitViolations ?? [],
        kubernetes: Object.fromEntries(kubernetes?.requestCounts ?? []),
        traced,
        lag: { max: lag.max / 1e6, p99: lag.percentile(99) / 1e6, mean: lag.mean / 1e6 },
      }),
    );
  }
  await Promise.all(instances.map((instance) => instance.stop()));
  balancer?.close();
  for (const server of networks) server.close();
  await github?.close();
  await kubernetes?.close();
});

/** Writes of Leases (the budget's, pauses) the Kubernetes stand-in has served. */
const leaseWrites = () =>
  (kubernetes?.requestCounts.get('PATCH leases') ?? 0) + (kubernetes?.requestCounts.get('POST leases') ?? 0);

/** The processes still up (one may be killed mid-burst). */
let live: ServerProcess[] = [];

/** Knative's part: each request to the next live instance in turn. */
async function startBalancer(targets: readonly ServerProcess[]): Promise<string> {
  let next = 0;
  balancer = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const target = (targets[next++ % targets.length] as ServerProcess).url;
      const headers = Object.fromEntries(
        Object.entries(req.headers).filter(
          ([name]) => !['host', 'connection', 'content-length'].includes(name),
        ),
      ) as Record<string, string>;
      fetch(`${target}${req.url ?? '/'}`, {
        method: req.method ?? 'POST',
        headers,
        body: Buffer.concat(chunks),
      })
        .then(async (answer) => {
          res.writeHead(answer.status, {
            'content-type': answer.headers.get('content-type') ?? 'text/plain',
          });
          res.end(Buffer.from(await answer.arrayBuffer()));
        })
        .catch(() => {
          res.writeHead(502);
          res.end();
        });
    });
  });
  await new Promise<void>((resolve) => balancer?.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(balancer.address() as AddressInfo).port}`;
}

/** A call an instance made to GitHub, as the network saw it (LIMITS_TRACE=on, or a stall asked for). */
interface TracedCall {
  instance: number;
  method: string;
  path: string;
  received: number;
  forwarded?: number;
  status?: number;
  answered?: number;
  /** The instance gave up on the call before its answer. */
  abandoned?: number;
}
const traced: TracedCall[] = [];

/**
 * The network between one instance and GitHub: requests pass as they come, except while `stall` says to hold them
 * (a loaded machine or network that delivers calls to GitHub later than they were sent).
 */
async function startNetwork(target: string, stall: () => number, instance: number): Promise<string> {
  const to = new URL(target);
  const server = createServer((req, res) => {
    const call: TracedCall = {
      instance,
      method: req.method ?? '',
      path: req.url ?? '',
      received: Date.now(),
    };
    traced.push(call);
    res.on('close', () => {
      if (!res.writableFinished) call.abandoned = Date.now();
    });
    const forward = () => {
      call.forwarded = Date.now();
      const upstream = httpRequest(
        { host: to.hostname, port: to.port, method: req.method, path: req.url, headers: req.headers },
        (answer) => {
          if (answer.statusCode !== undefined) call.status = answer.statusCode;
          call.answered = Date.now();
          res.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(res);
        },
      );
      upstream.on('error', () => {
        res.writeHead(502);
        res.end();
      });
      req.pipe(upstream);
    };
    const holdMs = stall() - Date.now();
    if (holdMs > 0) setTimeout(forward, holdMs);
    else forward();
  });
  networks.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

async function pool<T>(items: readonly T[], size: number, work: (item: T) => Promise<void>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: size }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

const rows: Record<string, string | number>[] = [];

it(`paces bursts of ${BURSTS.join(', ')} queued jobs within GitHub's limits, as fast as they allow`, async () => {
  github = await startGitHubStandIn({
    token: TOKEN,
    checkContract: false,
    limits: {
      concurrency: 100,
      pointsPerMinute: 900,
      timeFactor: TIME_FACTOR,
      ...(CONTENT ? { contentPerMinute: 80 } : {}),
    },
  });
  kubernetes = await startKubernetesStandIn();
  const kubeconfig = kubernetes.writeKubeconfig(mkdtempSync(join(tmpdir(), 'kar-limits-')));
  // A second into each burst, the calls to GitHub stall for STALL_MS: GitHub receives them late.
  let stallFrom = Infinity;
  const stall = () => (Date.now() >= stallFrom ? stallFrom + STALL_MS : 0);
  instances = await Promise.all(
    Array.from({ length: INSTANCES }, async (_, index) =>
      startServerProcess({
        WEBHOOK_SECRET: SECRET,
        GITHUB_TOKEN: TOKEN,
        RECONCILE_TOKEN,
        GITHUB_API_URL:
          STALL_MS > 0 || process.env.LIMITS_TRACE === 'on'
            ? await startNetwork(github?.url ?? '', stall, index)
            : (github?.url ?? ''),
        KUBECONFIG: kubeconfig,
        NAMESPACE: 'default',
        RUNNER_MODE: 'standard',
        GITHUB_LIMIT_WINDOW_SECONDS: String(MINUTE_MS / 1000),
        ...(CONTENT ? { GITHUB_CONTENT_LIMIT: 'on' } : {}),
        LOG_LEVEL: process.env.LIMITS_LOG_LEVEL ?? 'error',
      }),
    ),
  );
  live = [...instances];
  const url = await startBalancer(live);
  github.setHook({ url: `${url}/webhook`, secret: SECRET });

  let nextJobId = 700_000_000;
  for (const [index, burst] of BURSTS.entries()) {
    // Each burst meets GitHub's minute clear of the one before, and that one's runners finished.
    if (index > 0) await new Promise((resolve) => setTimeout(resolve, 1.5 * MINUTE_MS));
    const gh = github;
    const jobs = Array.from({ length: burst }, () => queuedPayload({ jobId: nextJobId++ }));
    for (const payload of jobs) gh.addJob(payload.repository.full_name, payload.workflow_job);
    const names = new Set(jobs.map((payload) => `runner-${payload.workflow_job.id}`));
    const violationsBefore = gh.limitViolations.length;
    const leaseWritesBefore = leaseWrites();
    const registeredAt = new Map<string, number>();
    const completing = new Set<string>();
    const started = Date.now();
    stallFrom = started + 1000;
    let done = false;
    // One process killed mid-burst, as when a node dies: no give-back of what it held; the balancer skips it.
    const kill =
      KILL && live.length > 1
        ? setTimeout(() => {
            const victim = live.pop();
            victim?.process.kill('SIGKILL');
          }, 1000)
        : undefined;

    // GitHub's side of a runner: registered, its Job started, the job runs a little over a minute, then completed.
    const lifecycle = setInterval(() => {
      for (const runner of gh.runners) {
        if (!names.has(runner.name) || runner.deleted) continue;
        if (!registeredAt.has(runner.name)) registeredAt.set(runner.name, Date.now());
        const job = kubernetes?.jobs.get(runner.name) as { spec?: { suspend?: boolean } } | undefined;
        if (job?.spec?.suspend !== false || completing.has(runner.name)) continue;
        completing.add(runner.name);
        const payload = jobs.find((candidate) => `runner-${candidate.workflow_job.id}` === runner.name);
        if (payload === undefined) continue;
        setTimeout(() => {
          gh.setJobStatus(payload.workflow_job.id, 'completed');
          void gh
            .deliver(
              'workflow_job',
              completedPayload(payload, { runnerId: runner.id, runnerName: runner.name }),
            )
            .finally(() => {
              // The runner exited with its job; its Job finishes and goes (the TTL controller's part, sooner).
              kubernetes?.jobs.delete(runner.name);
              kubernetes?.secrets.delete(runner.name);
            });
        }, MINUTE_MS * 1.1);
      }
    }, 50);
    // Reconcile on its schedule: every minute, records only, again while it says truncated.
    const reconcileLoop = (async () => {
      while (!done) {
        await new Promise((resolve) => setTimeout(resolve, MINUTE_MS));
        for (let pass = 0; pass < 20 && !done; pass += 1) {
          const answer = await fetch(`${url}/reconcile?scope=records`, {
            method: 'POST',
            headers: { authorization: `Bearer ${RECONCILE_TOKEN}` },
          }).catch(() => undefined);
          const report = (await answer?.json().catch(() => ({}))) as { truncated?: boolean } | undefined;
          if (report?.truncated !== true) break;
        }
      }
    })();

    // The burst: GitHub sends every queued delivery at once.
    await pool(jobs, 200, async (payload) => {
      await gh.deliver('workflow_job', payload);
    });
    const floorMs = ((burst / ALLOWED_PER_MINUTE) * 60_000) / TIME_FACTOR;
    const giveUpAt = started + Math.max(3 * floorMs, 20_000);
    while (registeredAt.size < burst && Date.now() < giveUpAt) await new Promise((r) => setTimeout(r, 100));
    const lastMs = Math.max(...registeredAt.values()) - started;
    done = true;
    clearTimeout(kill);
    clearInterval(lifecycle);
    await reconcileLoop;
    await gh.settled();

    // Exactly one runner: one live registration per job (a registration an interrupted start left is deleted).
    const perJob = new Map<string, number>();
    for (const runner of gh.runners.filter((r) => names.has(r.name) && !r.deleted)) {
      perJob.set(runner.name, (perJob.get(runner.name) ?? 0) + 1);
    }
    const violations = gh.limitViolations.slice(violationsBefore);
    const firstRetryAfter = violations[0]?.at;
    const after = firstRetryAfter === undefined ? 0 : violations.filter((v) => v.at > firstRetryAfter).length;
    rows.push({
      burst,
      'minimum (s)': (floorMs / 1000).toFixed(1),
      'ours (s)': (lastMs / 1000).toFixed(1),
      'ours / minimum': (lastMs / floorMs).toFixed(2),
      processes: INSTANCES,
      'lease writes/min': Math.round((leaseWrites() - leaseWritesBefore) / (lastMs / MINUTE_MS)),
      violations: violations.length,
      kinds: [...new Set(violations.map((v) => v.kind))].join('+') || '-',
      'after first retry-after': after,
      'registered jobs': registeredAt.size,
      'runners per job (max)': Math.max(...perJob.values()),
      registrations: gh.runners.filter((r) => names.has(r.name)).length,
    });
    expect(registeredAt.size, 'every job got a runner').toBe(burst);
    expect(Math.max(...perJob.values()), 'no job got two runners').toBe(1);
    expect(after, 'no violation after the first retry-after').toBe(0);
    expect(lastMs, `within ${MAX_RATIO}x of N / allowed rate`).toBeLessThanOrEqual(MAX_RATIO * floorMs);
  }
}, 600_000);

afterAll(() => {
  const columns = Object.keys(rows[0] ?? {});
  process.stdout.write(
    `\nmatrix bursts within GitHub's limits (x${TIME_FACTOR} time, ${ALLOWED_PER_MINUTE} registrations a minute${CONTENT ? ', content counted' : ''})\n` +
      `${columns.map((c) => c.padStart(14)).join(' ')}\n` +
      rows.map((row) => columns.map((c) => String(row[c]).padStart(14)).join(' ')).join('\n') +
      '\n',
  );
});
