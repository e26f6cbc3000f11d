import { request as octokitRequest } from '@octokit/request';
import { UpstreamError } from '../errors/errors.js';

/** A repository as GitHub's REST paths name it. */
export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
}

/** What the function asks GitHub to register: one just-in-time, ephemeral runner. */
export interface JitRunnerRequest {
  readonly name: string;
  readonly runnerGroupId: number;
  readonly labels: readonly string[];
  readonly workFolder: string;
}

export interface JitRunner {
  readonly runnerId: number;
  /** Base64 runner configuration; as sensitive as a registration token. Never log it. */
  readonly encodedJitConfig: string;
}

/** The GitHub calls the function makes. */
export interface GitHubClient {
  /** The job's current `status` (`queued`, `in_progress`, `completed`, ...). */
  getJobStatus(repo: RepoRef, jobId: number): Promise<string>;
  generateJitConfig(repo: RepoRef, runner: JitRunnerRequest): Promise<JitRunner>;
}

/** Told of every GitHub answer: the route template (never a raw URL), the status, and the response headers. */
export type GitHubResponseObserver = (
  endpoint: string,
  status: number,
  headers: Record<string, unknown>,
) => void;

export interface GitHubClientOptions {
  readonly baseUrl: string;
  readonly token: string;
  /** The seam for tests and for keep-alive agents: a WHATWG fetch. Defaults to the global one. */
  readonly fetch?: typeof fetch;
  readonly observe?: GitHubResponseObserver;
  /** Per-request deadline; GitHub gives a whole delivery 10 s. */
  readonly timeoutMs?: number;
  readonly userAgent?: string;
}

const JOB_ROUTE = 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}';
const JIT_ROUTE = 'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig';

/** Builds the GitHub REST client on `@octokit/request`, authenticated with one token. */
export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const timeoutMs = options.timeoutMs ?? 4000;
  const request = octokitRequest.defaults({
    baseUrl: options.baseUrl,
    headers: {
      authorization: `Bearer ${options.token}`,
      'user-agent': options.userAgent ?? 'kube-actions-runner',
      'x-github-api-version': '2022-11-28',
    },
    ...(options.fetch === undefined ? {} : { request: { fetch: options.fetch } }),
  });

  async function call<T>(route: string, parameters: Record<string, unknown>, what: string): Promise<T> {
    try {
      const response = await request(route, {
        ...parameters,
        request: { signal: AbortSignal.timeout(timeoutMs) },
      });
      options.observe?.(route, response.status, response.headers as Record<string, unknown>);
      return response.data as T;
    } catch (error) {
      const status = httpStatusOf(error);
      options.observe?.(route, status ?? 0, responseHeadersOf(error));
      throw new UpstreamError('github', `${what}: ${describe(error, status)}`, status, { cause: error });
    }
  }

  return {
    async getJobStatus(repo, jobId) {
      const job = await call<{ status?: unknown }>(
        JOB_ROUTE,
        { owner: repo.owner, repo: repo.repo, job_id: jobId },
        'failed to read the job from GitHub',
      );
      if (typeof job.status !== 'string') {
        throw new UpstreamError('github', 'GitHub answered a job without a status', undefined);
      }
      return job.status;
    },
    async generateJitConfig(repo, runner) {
      const answer = await call<{ runner?: { id?: unknown }; encoded_jit_config?: unknown }>(
        JIT_ROUTE,
        {
          owner: repo.owner,
          repo: repo.repo,
          name: runner.name,
          runner_group_id: runner.runnerGroupId,
          labels: runner.labels,
          work_folder: runner.workFolder,
        },
        'failed to generate JIT config',
      );
      const runnerId = answer.runner?.id;
      if (typeof runnerId !== 'number' || typeof answer.encoded_jit_config !== 'string') {
        throw new UpstreamError(
          'github',
          'failed to generate JIT config: answer lacks runner.id or encoded_jit_config',
          undefined,
        );
      }
      return { runnerId, encodedJitConfig: answer.encoded_jit_config };
    },
  };
}

function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status;
  return typeof status === 'number' && status > 0 ? status : undefined;
}

function responseHeadersOf(error: unknown): Record<string, unknown> {
  const headers = (error as { response?: { headers?: unknown } }).response?.headers;
  return typeof headers === 'object' && headers !== null ? (headers as Record<string, unknown>) : {};
}

/** A short cause for the log: GitHub's own message, never the request (which carries the token). */
function describe(error: unknown, status: number | undefined): string {
  const data = (error as { response?: { data?: unknown } }).response?.data;
  const message = (data as { message?: unknown } | undefined)?.message;
  if (status !== undefined) return `HTTP ${status}${typeof message === 'string' ? ` ${message}` : ''}`;
  const name = (error as Error).name;
  return name === 'TimeoutError' || name === 'AbortError' ? 'timed out' : 'network error';
}
