/**
 * A loopback stand-in for the GitHub REST endpoints the function calls, answering as the real API does: the same
 * routes, status codes, error bodies, and rate-limit headers. Every request body is checked against GitHub's
 * OpenAPI description (a bad one gets GitHub's 422), and every answer is checked too: `violations` lists any
 * answer that breaks the published contract, and tests assert it stays empty.
 */
import { randomBytes } from 'node:crypto';
import { operation } from './github-contract.js';
import { type JsonRequest, type JsonResponse, startJsonServer } from './http-server.js';

const JOB_PATH = '/repos/{owner}/{repo}/actions/jobs/{job_id}';
const JIT_PATH = '/repos/{owner}/{repo}/actions/runners/generate-jitconfig';
const DOCS = 'https://docs.github.com/rest';

export interface RegisteredRunner {
  readonly id: number;
  readonly repository: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly runnerGroupId: number;
  readonly encodedJitConfig: string;
}

export interface RecordedCall {
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly authorization: string | undefined;
}

export interface GitHubStandIn {
  readonly url: string;
  /** Runners registered through generate-jitconfig, in order. */
  readonly runners: RegisteredRunner[];
  readonly calls: RecordedCall[];
  /** Answers that break GitHub's published contract (should stay empty). */
  readonly violations: string[];
  /**
   * Makes the job known, from a webhook payload's `workflow_job` and its repository, in `status` (by default
   * `queued`, as when GitHub sends the `queued` delivery).
   */
  addJob(fullName: string, workflowJob: Record<string, unknown>, status?: string): void;
  setJobStatus(jobId: number, status: string): void;
  /** The next `count` calls to the route answer `status` with GitHub's error body. */
  failNext(route: 'job' | 'jit', status: number, count?: number): void;
  close(): Promise<void>;
}

export async function startGitHubStandIn(options: { token: string }): Promise<GitHubStandIn> {
  const jobs = new Map<string, Record<string, unknown>>();
  const runners: RegisteredRunner[] = [];
  const calls: RecordedCall[] = [];
  const violations: string[] = [];
  const failures: Record<'job' | 'jit', { status: number; count: number }> = {
    job: { status: 0, count: 0 },
    jit: { status: 0, count: 0 },
  };
  let remaining = 5000;
  let nextRunnerId = 1;

  const rateHeaders = (): Record<string, string> => ({
    'x-ratelimit-limit': '5000',
    'x-ratelimit-remaining': String(remaining),
    'x-ratelimit-used': String(5000 - remaining),
    'x-ratelimit-reset': String(Math.floor(Date.now() / 1000) + 3600),
    'x-ratelimit-resource': 'core',
    'x-github-api-version-selected': '2022-11-28',
    'x-github-request-id': randomBytes(8).toString('hex').toUpperCase(),
  });
  const error = (status: number, message: string): JsonResponse => ({
    status,
    body: { message, documentation_url: DOCS, status: String(status) },
  });
  const injected = (route: 'job' | 'jit'): JsonResponse | undefined => {
    const failure = failures[route];
    if (failure.count === 0) return undefined;
    failure.count -= 1;
    return error(failure.status, failure.status >= 500 ? 'Server Error' : 'Injected failure');
  };

  function route(
    request: JsonRequest,
  ): { contractPath: string; method: string; answer: JsonResponse } | JsonResponse {
    const auth = request.headers.authorization;
    const presented = auth?.replace(/^(Bearer|token) /i, '');
    if (presented !== options.token) return error(401, 'Bad credentials');
    remaining = Math.max(0, remaining - 1);

    const jobMatch = /^\/repos\/([^/]+)\/([^/]+)\/actions\/jobs\/(\d+)$/.exec(request.url.pathname);
    if (request.method === 'GET' && jobMatch) {
      const answer = injected('job') ?? jobAnswer(`${jobMatch[1]}/${jobMatch[2]}`, Number(jobMatch[3]));
      return { contractPath: JOB_PATH, method: 'get', answer };
    }
    const jitMatch = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runners\/generate-jitconfig$/.exec(
      request.url.pathname,
    );
    if (request.method === 'POST' && jitMatch) {
      const answer = injected('jit') ?? jitAnswer(`${jitMatch[1]}/${jitMatch[2]}`, request.body);
      return { contractPath: JIT_PATH, method: 'post', answer };
    }
    return error(404, 'Not Found');
  }

  function jobAnswer(repository: string, jobId: number): JsonResponse {
    const job = jobs.get(`${repository}#${jobId}`);
    return job === undefined ? error(404, 'Not Found') : { status: 200, body: job };
  }

  function jitAnswer(repository: string, body: unknown): JsonResponse {
    const problems = operation('post', JIT_PATH).checkRequest(body);
    if (problems.length > 0) return error(422, `Invalid request.\n\n${problems.join('\n')}`);
    const request = body as { name: string; runner_group_id: number; labels: string[] };
    if (runners.some((runner) => runner.repository === repository && runner.name === request.name)) {
      return error(409, `Already exists - A runner with the name ${request.name} already exists.`);
    }
    const id = nextRunnerId++;
    const encodedJitConfig = Buffer.from(
      JSON.stringify({
        '.runner': randomBytes(24).toString('base64'),
        '.credentials': randomBytes(24).toString('base64'),
      }),
    ).toString('base64');
    runners.push({
      id,
      repository,
      name: request.name,
      labels: request.labels,
      runnerGroupId: request.runner_group_id,
      encodedJitConfig,
    });
    return {
      status: 201,
      body: {
        runner: {
          id,
          name: request.name,
          os: 'unknown',
          status: 'offline',
          busy: false,
          runner_group_id: request.runner_group_id,
          ephemeral: true,
          labels: request.labels.map((name, index) => ({ id: index + 1, name, type: 'custom' })),
        },
        encoded_jit_config: encodedJitConfig,
      },
    };
  }

  const server = await startJsonServer((request) => {
    const routed = route(request);
    const answer = 'answer' in routed ? routed.answer : routed;
    if ('answer' in routed) {
      for (const problem of operation(routed.method, routed.contractPath).checkResponse(
        answer.status,
        answer.body,
      )) {
        violations.push(`${routed.method.toUpperCase()} ${routed.contractPath} ${answer.status}: ${problem}`);
      }
    }
    calls.push({
      method: request.method,
      path: request.url.pathname,
      status: answer.status,
      authorization: request.headers.authorization,
    });
    return { ...answer, headers: rateHeaders() };
  });

  return {
    url: server.url,
    runners,
    calls,
    violations,
    addJob(fullName, workflowJob, status = 'queued') {
      // The job object of the REST API carries a few fields the webhook's copy may lack.
      jobs.set(`${fullName}#${String(workflowJob.id)}`, {
        workflow_name: null,
        head_branch: null,
        created_at: (workflowJob.started_at as string | undefined) ?? new Date().toISOString(),
        ...workflowJob,
        status,
      });
    },
    setJobStatus(jobId, status) {
      for (const [key, job] of jobs) if (key.endsWith(`#${jobId}`)) job.status = status;
    },
    failNext(routeName, status, count = 1) {
      failures[routeName] = { status, count };
    },
    close: server.close,
  };
}
