/**
 * The GitHub client: every REST call the function makes, with its retries and error mapping. Longer than 250
 * lines on purpose: one file holds GitHub's whole contract with us, so a reader checks it against the docs in one place.
 */

import { type RunnerRelease, versionOfTag } from '../config/runner-version.js';
import {
  GitHubLimitError,
  NoCredentialError,
  PayloadError,
  PERMANENT_UPSTREAM_STATUSES,
  PermanentUpstreamError,
  UpstreamError,
} from '../errors/errors.js';
import { type Deadline, deadlineIn, type RetryAdvice, withRetries } from '../retry/with-retries.js';
import { OWNER_LOGIN, REPOSITORY_NAME } from '../webhook/parse-workflow-job.js';
import { type CredentialBudget, limitAnswer } from './credential-budget.js';
import type { CredentialProvider, GitHubCredential } from './credentials.js';
import { restRequest } from './rest-request.js';

/** A repository as GitHub's REST paths name it; in App mode, with the installation that delivered it. */
export interface RepoRef {
  readonly owner: string;
  readonly repo: string;
  readonly installationId?: number | undefined;
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

/** A registered self-hosted runner, as far as the function cares. */
export interface RegisteredRunner {
  readonly id: number;
  readonly name: string;
  readonly status: string;
  readonly busy: boolean;
}

/** One delivery attempt of a webhook, from GitHub's deliveries API. */
export interface HookDelivery {
  readonly id: number;
  readonly guid: string;
  readonly deliveredAt: string;
  readonly statusCode: number;
  readonly event: string;
  readonly action: string | null;
  readonly redelivery: boolean;
}

/**
 * A webhook's deliveries, newest first, back to a time: every page GitHub has back to it, unless the caller's `more`
 * (asked before each page after the first) stopped the listing early.
 */
export interface DeliveryList {
  readonly deliveries: HookDelivery[];
  /** False when the listing stopped before it reached the time asked for. */
  readonly complete: boolean;
  /** When it stopped early: GitHub's cursor of the first page not read, to go on from. */
  readonly next?: string;
}

/** A workflow job as GitHub itself answers it: what decisions are made on, whatever a payload said. */
export interface WorkflowJob {
  /** `queued`, `in_progress`, `completed`, `waiting`, ... */
  readonly status: string;
  /** The job's `runs-on` labels. */
  readonly labels: readonly string[];
  /** The runner that took the job, if any (`runner-<job id>` for ours). */
  readonly runnerName: string | null;
  /** The job's name and its workflow's, and its run, as GitHub has them (for cost attribution). */
  readonly name?: string | undefined;
  readonly workflowName?: string | undefined;
  readonly runId?: number | undefined;
  readonly runAttempt?: number | undefined;
}

/** An answer read with its `ETag`, to ask again conditionally (`If-None-Match`). */
export interface Tagged<T> {
  readonly value: T;
  readonly etag: string | undefined;
}

/** GitHub's answer to a conditional read whose `ETag` still matches (304): what was read before holds. */
export const NOT_MODIFIED = 'not-modified';

/** The GitHub calls the function makes. Each is retried on 5xx, 429 and rate limits until its deadline. */
export interface GitHubClient {
  /**
   * The job as GitHub has it, read through the repository's own path: a job id of another repository is a 404
   * UpstreamError, so a delivery naming one repository cannot act on another's job.
   */
  getJob(repo: RepoRef, jobId: number, deadline?: Deadline): Promise<WorkflowJob>;
  /**
   * Whether the repository is public, as GitHub says (`visibility`, else `private`), remembered for a few
   * minutes per repository. A repository GitHub answers with neither is taken as public.
   */
  isPublic(repo: RepoRef, deadline?: Deadline): Promise<boolean>;
  /** Every self-hosted runner registered where this function registers them (the repository, or its org). */
  listRunners(repo: RepoRef, deadline?: Deadline): Promise<RegisteredRunner[]>;
  generateJitConfig(repo: RepoRef, runner: JitRunnerRequest, deadline?: Deadline): Promise<JitRunner>;
  /** The repository's self-hosted runner of that name, if any. */
  findRunner(repo: RepoRef, name: string, deadline?: Deadline): Promise<RegisteredRunner | undefined>;
  /** Removes a runner registration; one already gone is not an error. */
  deleteRunner(repo: RepoRef, runnerId: number, deadline?: Deadline): Promise<void>;
  /** Deliveries of a repository webhook, newest first, back to `since` (ISO time). */
  listDeliveries(
    repo: RepoRef,
    hookId: number,
    since: string,
    deadline?: Deadline,
    more?: () => boolean,
    from?: string,
  ): Promise<DeliveryList>;
  /** Asks GitHub to deliver a past delivery again. */
  redeliver(repo: RepoRef, hookId: number, deliveryId: number, deadline?: Deadline): Promise<void>;
  /** True in App mode: the App's own webhook has deliveries to look through. */
  readonly hasAppHook: boolean;
  /** Deliveries of the GitHub App's own webhook, newest first, back to `since` (App mode only). */
  listAppDeliveries(
    since: string,
    deadline?: Deadline,
    more?: () => boolean,
    from?: string,
  ): Promise<DeliveryList>;
  /** Asks GitHub to deliver a past delivery of the App's webhook again (App mode only). */
  redeliverApp(deliveryId: number, deadline?: Deadline): Promise<void>;
  /**
   * Why a runner for this repository cannot be started now (its credential is paused, or this instance's budget
   * for a job read and a JIT registration is spent), taking nothing; undefined when it can.
   */
  startBlocked(repo: RepoRef): Promise<GitHubLimitError | undefined>;
  /**
   * GitHub's newest runner release (`GET /repos/actions/runner/releases/latest`; on GitHub Enterprise Server, the
   * one that instance serves), read with the credential of `target` (a repository this deployment serves: any
   * credential may read a public repository), or unauthenticated without one. With `etag`, asked conditionally:
   * `NOT_MODIFIED` when it still matches (a 304, which costs no rate limit when authenticated).
   */
  latestRunnerRelease(
    target: RepoRef | undefined,
    etag: string | undefined,
    deadline?: Deadline,
  ): Promise<Tagged<RunnerRelease> | typeof NOT_MODIFIED>;
  /**
   * GitHub's runner releases, newest first (`GET /repos/actions/runner/releases`, the first 100: years of monthly
   * releases), without drafts and prereleases; read and asked again as `latestRunnerRelease`.
   */
  listRunnerReleases(
    target: RepoRef | undefined,
    etag: string | undefined,
    deadline?: Deadline,
  ): Promise<Tagged<RunnerRelease[]> | typeof NOT_MODIFIED>;
}

/**
 * Told of every GitHub answer: the route template (never a raw URL), the status, the response headers, and the
 * credential's label (never the token).
 */
export type GitHubResponseObserver = (
  endpoint: string,
  status: number,
  headers: Record<string, unknown>,
  credential: string,
) => void;

export interface GitHubClientOptions {
  readonly baseUrl: string;
  readonly credentials: CredentialProvider;
  /** Where runners are registered: the repository, or its organisation (runner groups). */
  readonly scope?: 'repo' | 'org';
  /** The seam for tests and for keep-alive agents: a WHATWG fetch. Defaults to the global one. */
  readonly fetch?: typeof fetch;
  readonly observe?: GitHubResponseObserver;
  /**
   * Each credential's share of GitHub's limits and its pause, asked before every call; a rate-limit answer pauses
   * the credential. Without one, calls are not budgeted (a rate-limit answer is still never retried).
   */
  readonly budget?: CredentialBudget;
  /** Deadline of a call made without one; GitHub gives a whole delivery 10 s. */
  readonly defaultBudgetMs?: number;
  /** Longest single request. */
  readonly requestTimeoutMs?: number;
  readonly userAgent?: string;
  readonly sleep?: (ms: number) => Promise<void>;
}

const ROUTES = {
  repository: 'GET /repos/{owner}/{repo}',
  job: 'GET /repos/{owner}/{repo}/actions/jobs/{job_id}',
  jit: 'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig',
  runners: 'GET /repos/{owner}/{repo}/actions/runners',
  deleteRunner: 'DELETE /repos/{owner}/{repo}/actions/runners/{runner_id}',
  orgJit: 'POST /orgs/{org}/actions/runners/generate-jitconfig',
  orgRunners: 'GET /orgs/{org}/actions/runners',
  orgDeleteRunner: 'DELETE /orgs/{org}/actions/runners/{runner_id}',
  deliveries: 'GET /repos/{owner}/{repo}/hooks/{hook_id}/deliveries',
  redeliver: 'POST /repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts',
  appDeliveries: 'GET /app/hook/deliveries',
  appRedeliver: 'POST /app/hook/deliveries/{delivery_id}/attempts',
  latestRelease: 'GET /repos/{owner}/{repo}/releases/latest',
  releases: 'GET /repos/{owner}/{repo}/releases',
} as const;

/** Routes called about once an hour: each budget block of theirs holds one call, not a share of the concurrency. */
const RARE_ROUTES: ReadonlySet<string> = new Set([ROUTES.latestRelease, ROUTES.releases]);

/** Where GitHub publishes the runner's releases. */
const RUNNER_REPOSITORY = { owner: 'actions', repo: 'runner' } as const;

/** No credential: a public repository's releases may be read without one (60 calls an hour per address). */
const anonymous = async (): Promise<GitHubCredential> => ({ token: '', label: 'anonymous' });

/** How long a repository's visibility is taken as known, and for how many repositories at most. */
const VISIBILITY_TTL_MS = 5 * 60 * 1000;
const VISIBILITY_CACHE_SIZE = 1000;

type Answer<T> = { status: number; data: T; headers: Record<string, unknown> };

/** Builds the GitHub REST client on `@octokit/request`; each call authenticates as the owner's credential. */
export function createGitHubClient(options: GitHubClientOptions): GitHubClient {
  const { defaultBudgetMs = 8000, requestTimeoutMs = 5000, scope = 'repo' } = options;
  const request = restRequest(
    options.baseUrl,
    (options.fetch ?? fetch) as unknown as Parameters<typeof restRequest>[1],
    options.userAgent,
  );

  /** The App's own credential; without one (PAT mode) the App endpoints cannot be called. */
  const appCredential = async () => {
    if (options.credentials.appCredential === undefined) {
      throw new NoCredentialError('the App webhook is only reachable in GitHub App mode');
    }
    return options.credentials.appCredential();
  };

  async function call<T>(
    route: string,
    parameters: Record<string, unknown>,
    what: string,
    target: RepoRef | (() => Promise<GitHubCredential>),
    deadline: Deadline = deadlineIn(defaultBudgetMs),
    extraHeaders: Readonly<Record<string, string>> = {},
  ): Promise<Answer<T>> {
    assertPathSegments(parameters);
    // A missing credential is not an upstream failure: NoCredentialError passes through as it is.
    const credential =
      typeof target === 'function' ? await target() : await options.credentials.credentialFor(target);
    const sent: Record<string, string> = { ...extraHeaders };
    if (credential.token !== '')
      sent.authorization = `${credential.scheme === 'bearer' ? 'Bearer' : 'token'} ${credential.token}`;
    try {
      return await withRetries(
        async (remainingMs) => {
          const release = await options.budget?.acquire(
            credential.label,
            route,
            deadline,
            RARE_ROUTES.has(route) ? 1 : undefined,
          );
          // Whether GitHub answered: a call given up without an answer (a timeout, a dropped connection) may still
          // reach GitHub and count there, so the budget keeps counting it longer.
          let answered: boolean | 'refused' = false;
          try {
            const timeoutMs = Math.max(1, Math.min(requestTimeoutMs, remainingMs));
            const response = await request(route, {
              ...parameters,
              headers: sent,
              request: { timeoutMs },
            });
            answered = true;
            const headers = response.headers as Record<string, unknown>;
            options.observe?.(route, response.status, headers, credential.label);
            return { status: response.status, data: response.data as T, headers };
          } catch (error) {
            const status = httpStatusOf(error);
            answered = status !== undefined;
            const headers = responseHeadersOf(error);
            options.observe?.(route, status ?? 0, headers, credential.label);
            const until = limitAnswer(
              status,
              headers,
              messageOf(error),
              Date.now(),
              options.budget?.limits.windowMs,
            );
            if (until === undefined) throw error;
            // Refused, not served: the pause holds the next calls back, not a window of this one's points.
            answered = 'refused';
            // Never asked again before GitHub allows it, here or on any other instance (the pause is shared).
            await options.budget?.pause(credential.label, until);
            const seconds = Math.ceil((until - Date.now()) / 1000);
            throw new GitHubLimitError(
              `${what}: GitHub's rate limit asks to wait ${seconds} s (HTTP ${status})`,
              until,
              status,
              { cause: error },
            );
          } finally {
            release?.(answered);
          }
        },
        { deadline, advise: adviseRetry, ...(options.sleep ? { sleep: options.sleep } : {}) },
      );
    } catch (error) {
      if (error instanceof GitHubLimitError) throw error;
      const status = httpStatusOf(error);
      const message = `${what}: ${describe(error, status)}`;
      // 400, 404 and 422 say the request itself cannot succeed: no retry, redelivery or reconcile pass changes it.
      if (status !== undefined && PERMANENT_UPSTREAM_STATUSES.has(status)) {
        const reason = `${what}: GitHub answered HTTP ${status}, which asking again cannot change`;
        throw new PermanentUpstreamError('github', reason, message, status, { cause: error });
      }
      throw new UpstreamError('github', message, status, { cause: error });
    }
  }

  /**
   * Deliveries of a webhook, newest first, back to `since`: page after page (GitHub pages them by a cursor in the
   * `Link` header), until a page reaches past `since`, the last page, or `more` says no. No fixed number of pages:
   * a matrix burst makes thousands of deliveries in minutes, and a failed one past a fixed cap would never be seen.
   */
  async function listDeliveryPages(
    route: string,
    parameters: Record<string, unknown>,
    target: RepoRef | (() => Promise<GitHubCredential>),
    since: string,
    deadline: Deadline | undefined,
    more: () => boolean,
    from: string | undefined,
  ): Promise<DeliveryList> {
    const deliveries: HookDelivery[] = [];
    let cursor = from;
    for (let page = 0; ; page += 1) {
      if (page > 0 && !more()) {
        const read = deliveries.filter((d) => d.deliveredAt >= since);
        return { deliveries: read, complete: false, ...(cursor ? { next: cursor } : {}) };
      }
      const { data, headers } = await call<Record<string, unknown>[]>(
        route,
        { ...parameters, per_page: 100, ...(cursor ? { cursor } : {}) },
        'failed to list webhook deliveries',
        target,
        deadline,
      );
      for (const item of data) {
        deliveries.push({
          id: Number(item.id),
          guid: String(item.guid),
          deliveredAt: String(item.delivered_at),
          statusCode: Number(item.status_code),
          event: String(item.event),
          action: typeof item.action === 'string' ? item.action : null,
          redelivery: item.redelivery === true,
        });
      }
      const oldest = data.at(-1)?.delivered_at;
      cursor = nextCursor(headers.link);
      if (cursor === undefined || data.length === 0 || (typeof oldest === 'string' && oldest < since)) break;
    }
    return { deliveries: deliveries.filter((delivery) => delivery.deliveredAt >= since), complete: true };
  }

  /** Visibility answers by `owner/repo` (lower case), with when they expire; bounded, oldest dropped first. */
  const visibility = new Map<string, { isPublic: boolean; until: number }>();

  /** Path parameters of a runner route: the repository, or in org scope its organisation. */
  const where = (repo: RepoRef) =>
    scope === 'org' ? { org: repo.owner } : { owner: repo.owner, repo: repo.repo };

  return {
    async getJob(repo, jobId, deadline) {
      const { data } = await call<{
        status?: unknown;
        labels?: unknown;
        runner_name?: unknown;
        name?: unknown;
        workflow_name?: unknown;
        run_id?: unknown;
        run_attempt?: unknown;
      }>(
        ROUTES.job,
        { owner: repo.owner, repo: repo.repo, job_id: jobId },
        'failed to read the job from GitHub',
        repo,
        deadline,
      );
      if (typeof data.status !== 'string') {
        throw new UpstreamError('github', 'GitHub answered a job without a status', undefined);
      }
      const labels = Array.isArray(data.labels)
        ? data.labels.filter((label): label is string => typeof label === 'string')
        : [];
      return {
        status: data.status,
        labels,
        runnerName: typeof data.runner_name === 'string' ? data.runner_name : null,
        name: typeof data.name === 'string' ? data.name : undefined,
        workflowName: typeof data.workflow_name === 'string' ? data.workflow_name : undefined,
        runId: positiveInteger(data.run_id),
        runAttempt: positiveInteger(data.run_attempt),
      };
    },
    async isPublic(repo, deadline) {
      const key = `${repo.owner}/${repo.repo}`.toLowerCase();
      const known = visibility.get(key);
      if (known !== undefined && known.until > Date.now()) return known.isPublic;
      const { data } = await call<{ private?: unknown; visibility?: unknown }>(
        ROUTES.repository,
        { owner: repo.owner, repo: repo.repo },
        'failed to read the repository from GitHub',
        repo,
        deadline,
      );
      const isPublic =
        typeof data.visibility === 'string' ? data.visibility === 'public' : data.private !== true;
      visibility.delete(key);
      if (visibility.size >= VISIBILITY_CACHE_SIZE)
        visibility.delete(visibility.keys().next().value as string);
      visibility.set(key, { isPublic, until: Date.now() + VISIBILITY_TTL_MS });
      return isPublic;
    },
    async listRunners(repo, deadline) {
      const found: RegisteredRunner[] = [];
      // Pages of 100, at most 10: a sweep, not an inventory; what it misses the next pass sees.
      for (let page = 1; page <= 10; page += 1) {
        const { data } = await call<{
          total_count?: number;
          runners?: { id: number; name: string; status: string; busy: boolean }[];
        }>(
          scope === 'org' ? ROUTES.orgRunners : ROUTES.runners,
          { ...where(repo), per_page: 100, page },
          'failed to list runners',
          repo,
          deadline,
        );
        const runners = data.runners ?? [];
        for (const runner of runners)
          found.push({ id: runner.id, name: runner.name, status: runner.status, busy: runner.busy });
        if (runners.length < 100) break;
      }
      return found;
    },
    async generateJitConfig(repo, runner, deadline) {
      const { data } = await call<{ runner?: { id?: unknown }; encoded_jit_config?: unknown }>(
        scope === 'org' ? ROUTES.orgJit : ROUTES.jit,
        {
          ...where(repo),
          name: runner.name,
          runner_group_id: runner.runnerGroupId,
          labels: runner.labels,
          work_folder: runner.workFolder,
        },
        'failed to generate JIT config',
        repo,
        deadline,
      );
      const runnerId = data.runner?.id;
      if (typeof runnerId !== 'number' || typeof data.encoded_jit_config !== 'string') {
        throw new UpstreamError(
          'github',
          'failed to generate JIT config: answer lacks runner.id or encoded_jit_config',
          undefined,
        );
      }
      return { runnerId, encodedJitConfig: data.encoded_jit_config };
    },
    async findRunner(repo, name, deadline) {
      const { data } = await call<{
        runners?: { id: number; name: string; status: string; busy: boolean }[];
      }>(
        scope === 'org' ? ROUTES.orgRunners : ROUTES.runners,
        { ...where(repo), name, per_page: 100 },
        'failed to look up the runner',
        repo,
        deadline,
      );
      const found = (data.runners ?? []).find((runner) => runner.name === name);
      return found && { id: found.id, name: found.name, status: found.status, busy: found.busy };
    },
    async deleteRunner(repo, runnerId, deadline) {
      try {
        await call(
          scope === 'org' ? ROUTES.orgDeleteRunner : ROUTES.deleteRunner,
          { ...where(repo), runner_id: runnerId },
          'failed to delete the runner',
          repo,
          deadline,
        );
      } catch (error) {
        if (error instanceof UpstreamError && error.status === 404) return;
        throw error;
      }
    },
    listDeliveries(repo, hookId, since, deadline, more = () => true, from = undefined) {
      return listDeliveryPages(
        ROUTES.deliveries,
        { owner: repo.owner, repo: repo.repo, hook_id: hookId },
        repo,
        since,
        deadline,
        more,
        from,
      );
    },
    async redeliver(repo, hookId, deliveryId, deadline) {
      await call(
        ROUTES.redeliver,
        { owner: repo.owner, repo: repo.repo, hook_id: hookId, delivery_id: deliveryId },
        'failed to redeliver',
        repo,
        deadline,
      );
    },
    hasAppHook: options.credentials.appCredential !== undefined,
    listAppDeliveries(since, deadline, more = () => true, from = undefined) {
      return listDeliveryPages(ROUTES.appDeliveries, {}, appCredential, since, deadline, more, from);
    },
    async redeliverApp(deliveryId, deadline) {
      await call(
        ROUTES.appRedeliver,
        { delivery_id: deliveryId },
        'failed to redeliver',
        appCredential,
        deadline,
      );
    },
    async startBlocked(repo) {
      if (options.budget === undefined) return undefined;
      const credential = await options.credentials.credentialFor(repo);
      return options.budget.blocked(credential.label, [
        ROUTES.job,
        scope === 'org' ? ROUTES.orgJit : ROUTES.jit,
      ]);
    },
    async latestRunnerRelease(target, etag, deadline) {
      const answer = await conditional<Record<string, unknown>>(
        ROUTES.latestRelease,
        {},
        "failed to read GitHub's newest runner release",
        target,
        etag,
        deadline,
      );
      if (answer === NOT_MODIFIED) return answer;
      const release = releaseOf(answer.value);
      if (release === undefined) {
        throw new UpstreamError(
          'github',
          'GitHub answered a runner release without a version tag',
          undefined,
        );
      }
      return { value: release, etag: answer.etag };
    },
    async listRunnerReleases(target, etag, deadline) {
      const answer = await conditional<unknown>(
        ROUTES.releases,
        { per_page: 100 },
        "failed to list GitHub's runner releases",
        target,
        etag,
        deadline,
      );
      if (answer === NOT_MODIFIED) return answer;
      const items = Array.isArray(answer.value) ? (answer.value as Record<string, unknown>[]) : [];
      const releases = items.flatMap((item) => {
        const release = releaseOf(item);
        return release === undefined ? [] : [release];
      });
      return { value: releases, etag: answer.etag };
    },
  };

  /** A read of the runner's repository, conditional on `etag` when one is known. */
  async function conditional<T>(
    route: string,
    parameters: Record<string, unknown>,
    what: string,
    target: RepoRef | undefined,
    etag: string | undefined,
    deadline: Deadline | undefined,
  ): Promise<Tagged<T> | typeof NOT_MODIFIED> {
    try {
      const { data, headers } = await call<T>(
        route,
        { ...RUNNER_REPOSITORY, ...parameters },
        what,
        target ?? anonymous,
        deadline,
        etag === undefined ? {} : { 'if-none-match': etag },
      );
      return { value: data, etag: typeof headers.etag === 'string' ? headers.etag : undefined };
    } catch (error) {
      // https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate
      if (error instanceof UpstreamError && error.status === 304) return NOT_MODIFIED;
      throw error;
    }
  }
}

/** A published release as far as following it goes; undefined for a draft, a prerelease or a tag of no version. */
function releaseOf(item: Record<string, unknown>): RunnerRelease | undefined {
  if (item.draft === true || item.prerelease === true) return undefined;
  const version = versionOfTag(item.tag_name);
  const publishedAt = typeof item.published_at === 'string' ? Date.parse(item.published_at) : Number.NaN;
  return version === undefined || Number.isNaN(publishedAt) ? undefined : { version, publishedAt };
}

/**
 * 5xx and network failures are worth another try (after `retry-after` when the answer has one). A rate-limit answer
 * (GitHubLimitError) is not retried within the call: GitHub asks for no call before its `retry-after` or
 * `x-ratelimit-reset`, and repeated violations can get an integration banned; the record waits and is started when
 * the credential may be called again.
 * https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#handle-rate-limit-errors-appropriately
 */
function adviseRetry(error: unknown): RetryAdvice {
  if (error instanceof GitHubLimitError) return undefined;
  const status = httpStatusOf(error);
  const retryAfter = Number(responseHeadersOf(error)['retry-after']);
  const askedMs = Number.isFinite(retryAfter) && retryAfter >= 0 ? retryAfter * 1000 : undefined;
  if (status === undefined || status >= 500) return askedMs === undefined ? {} : { afterMs: askedMs };
  return undefined;
}

/** GitHub's own error message, only to recognise a secondary rate limit (never passed on). */
function messageOf(error: unknown): string {
  const message = (error as { response?: { data?: { message?: unknown } } }).response?.data?.message;
  return typeof message === 'string' ? message : '';
}

/**
 * The owner, repository and organisation of a REST path, as GitHub names them. `@octokit/request` percent-encodes
 * a path parameter, but `.` and `..` pass encoding unchanged and URL resolution then climbs out of the repository
 * (`/repos/../actions/jobs/1`); so every such segment is checked before any request is built.
 */
function assertPathSegments(parameters: Record<string, unknown>): void {
  for (const [key, pattern] of [
    ['owner', OWNER_LOGIN],
    ['org', OWNER_LOGIN],
    ['repo', REPOSITORY_NAME],
  ] as const) {
    const value = parameters[key];
    if (value !== undefined && (typeof value !== 'string' || !pattern.test(value))) {
      throw new PayloadError(
        `${key} ${JSON.stringify(String(value)).slice(0, 110)} is not a name GitHub allows`,
      );
    }
  }
}

function nextCursor(link: unknown): string | undefined {
  if (typeof link !== 'string') return undefined;
  const next = /<([^>]+)>;\s*rel="next"/.exec(link)?.[1];
  return next === undefined ? undefined : (new URL(next).searchParams.get('cursor') ?? undefined);
}

function httpStatusOf(error: unknown): number | undefined {
  const status = (error as { status?: unknown }).status;
  // @octokit/request reports a failed fetch (no answer at all) as status 500 with no response.
  if ((error as { response?: unknown }).response === undefined) return undefined;
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
  const text = String((error as Error).message ?? '');
  return /abort|timeout/i.test(text) ? 'timed out' : 'network error';
}

function positiveInteger(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) > 0 ? (value as number) : undefined;
}
