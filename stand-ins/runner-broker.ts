import type { GitHubStandIn, RegisteredRunner } from './github-stand-in.js';
import { startJsonServer } from './http-server.js';
import { completedPayload, inProgressPayload, type queuedPayload } from './payloads.js';

/*
 * GitHub's side of a running runner, for the tests on a real node: the service a runner started from a JIT config
 * asks for its job (the `.runner` file's `serverUrlV2`), and the deliveries GitHub sends as the job goes on.
 * The runner stand-in image's `run.sh` (scripts/images/) speaks to it:
 *   POST {url}session             {agentId, clientId, version}  → 200 {jobId, jobName, script} | 204 | 401 | 403
 *   POST {url}jobs/{id}/complete  {agentId, clientId, result, exitCode}  → 200
 * As GitHub does, it gives a runner any queued job of its repository whose labels it carries (not necessarily the
 * one it was made for), sends `in_progress` once the runner has it and `completed` when it reports, and refuses a
 * runner whose version it no longer serves with the runner's own message.
 */

type Queued = ReturnType<typeof queuedPayload>;

export interface BrokerEvent {
  readonly kind: 'online' | 'took' | 'completed' | 'refused';
  readonly runner: string;
  readonly jobId?: number;
  readonly result?: string;
  readonly exitCode?: number;
  readonly at: number;
}

export interface RunnerBroker {
  /** The runner service's base URL (ends in `/`); the GitHub stand-in's JIT configs name it. */
  readonly url: string;
  readonly events: readonly BrokerEvent[];
  /** Makes a queued job known to GitHub, with the script its runner runs (`bash -e`, in its work folder). */
  queue(payload: Queued, script: string): void;
  /** From now on, runners of this version are refused ("deprecated and cannot receive messages"). */
  refuseVersion(version: string): void;
  /** Resolves with the first event (past or future) that matches. */
  waitFor(match: (event: BrokerEvent) => boolean, timeoutMs: number): Promise<BrokerEvent>;
  close(): Promise<void>;
}

interface QueuedJob {
  readonly payload: Queued;
  readonly script: string;
  takenBy?: RegisteredRunner;
  done: boolean;
}

interface Proof {
  readonly agentId?: unknown;
  readonly clientId?: unknown;
}

const lower = (labels: readonly string[]) => new Set(labels.map((label) => label.toLowerCase()));

/** Starts the broker on `host` (the node's bridge address, which pods reach) and points the JIT configs at it. */
export async function startRunnerBroker(github: GitHubStandIn, host: string): Promise<RunnerBroker> {
  const jobs: QueuedJob[] = [];
  const refused = new Set<string>();
  const events: BrokerEvent[] = [];
  const waiters = new Set<{
    match: (event: BrokerEvent) => boolean;
    resolve: (event: BrokerEvent) => void;
    timer: NodeJS.Timeout;
  }>();
  const note = (event: Omit<BrokerEvent, 'at'>) => {
    const full = { ...event, at: Date.now() };
    events.push(full);
    for (const waiter of waiters) {
      if (!waiter.match(full)) continue;
      waiters.delete(waiter);
      clearTimeout(waiter.timer);
      waiter.resolve(full);
    }
  };
  const send = (payload: unknown) => {
    // Sent as GitHub sends it: after the answer, whatever the function makes of it.
    void github.deliver('workflow_job', payload as Record<string, unknown>).catch(() => undefined);
  };

  /** The runner a request comes from, if it proves it holds that runner's JIT config. */
  const runnerOf = (body: unknown): RegisteredRunner | undefined => {
    const proof = (body ?? {}) as Proof;
    const runner = github.runners.find((one) => one.id === proof.agentId && !one.deleted);
    return runner !== undefined && runner.clientId === proof.clientId ? runner : undefined;
  };

  const session = (runner: RegisteredRunner, version: unknown) => {
    if (typeof version === 'string' && refused.has(version)) {
      note({ kind: 'refused', runner: runner.name });
      return {
        status: 403,
        body: { message: `Runner version v${version} is deprecated and cannot receive messages.` },
      };
    }
    if (!events.some((event) => event.kind === 'online' && event.runner === runner.name)) {
      note({ kind: 'online', runner: runner.name });
    }
    let job = jobs.find((one) => one.takenBy === runner && !one.done);
    if (job === undefined) {
      const carries = lower(runner.labels);
      job = jobs.find(
        (one) =>
          one.takenBy === undefined &&
          one.payload.repository.full_name === runner.repository &&
          one.payload.workflow_job.labels.every((label) => carries.has(label.toLowerCase())),
      );
      if (job === undefined) return { status: 204, body: undefined };
      job.takenBy = runner;
      const jobId = job.payload.workflow_job.id;
      github.giveJob(jobId, runner.name);
      note({ kind: 'took', runner: runner.name, jobId });
      send(inProgressPayload(job.payload, runner));
    }
    const { id, name } = job.payload.workflow_job as { id: number; name?: string };
    return { status: 200, body: { jobId: id, jobName: name ?? `job-${id}`, script: job.script } };
  };

  const complete = (runner: RegisteredRunner, jobId: number, body: unknown) => {
    const job = jobs.find((one) => one.takenBy === runner && one.payload.workflow_job.id === jobId);
    if (job === undefined) return { status: 404, body: { message: 'Not Found' } };
    const { result, exitCode } = (body ?? {}) as { result?: unknown; exitCode?: unknown };
    if (!job.done) {
      job.done = true;
      const conclusion = result === 'succeeded' ? 'success' : 'failure';
      github.setJobStatus(jobId, 'completed');
      github.setJobFields(jobId, { conclusion });
      send(completedPayload(job.payload, { runnerId: runner.id, runnerName: runner.name, conclusion }));
      note({
        kind: 'completed',
        runner: runner.name,
        jobId,
        ...(typeof result === 'string' ? { result } : {}),
        ...(typeof exitCode === 'number' ? { exitCode } : {}),
      });
    }
    return { status: 200, body: {} };
  };

  const server = await startJsonServer((request) => {
    if (request.method !== 'POST') return { status: 405, body: { message: 'Method Not Allowed' } };
    const runner = runnerOf(request.body);
    if (runner === undefined) return { status: 401, body: { message: 'Unauthorized' } };
    if (request.url.pathname === '/session') {
      return session(runner, (request.body as { version?: unknown }).version);
    }
    const completion = /^\/jobs\/(\d+)\/complete$/.exec(request.url.pathname);
    if (completion) return complete(runner, Number(completion[1]), request.body);
    return { status: 404, body: { message: 'Not Found' } };
  }, host);
  const url = `${server.url}/`;
  github.setRunnerService(url);

  return {
    url,
    events,
    queue(payload, script) {
      github.addJob(payload.repository.full_name, payload.workflow_job);
      jobs.push({ payload, script, done: false });
    },
    refuseVersion(version) {
      refused.add(version);
    },
    waitFor(match, timeoutMs) {
      const past = events.find(match);
      if (past !== undefined) return Promise.resolve(past);
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(waiter);
          reject(new Error(`no broker event matched in ${timeoutMs} ms; events: ${JSON.stringify(events)}`));
        }, timeoutMs);
        const waiter = { match, resolve, timer };
        waiters.add(waiter);
      });
    },
    close: () => server.close(),
  };
}
