/**
 * A loopback stand-in for the GitHub REST endpoints the function calls, answering as the real API does: the same
 * routes, status codes, error bodies, and rate-limit headers. Every request body is checked against GitHub's
 * OpenAPI description (a bad one gets GitHub's 422), and every answer is checked too: `violations` lists any
 * answer that breaks the published contract, and tests assert it stays empty.
 *
 * It also plays GitHub's webhook side: `deliver()` signs and sends a payload to the function the way GitHub does,
 * records each attempt with its status code, and serves them through the deliveries API, where a redelivery
 * request sends the same GUID again.
 *
 * Longer than 250 lines on purpose: one stand-in for one upstream, so its state (jobs, runners, hooks, deliveries)
 * stays consistent across the endpoints that share it.
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { sign } from '@octokit/webhooks-methods';
import { createStandInAuth, type StandInAuthOptions } from './github-auth-stand-in.js';
import { operation } from './github-contract.js';
import { createStandInLimiter, type LimitViolation, type StandInLimits } from './github-limits-stand-in.js';
import { createStandInReleases, type StandInRelease } from './github-releases.js';
import { repositoryBody } from './github-repository.js';
import { type JsonRequest, type JsonResponse, startJsonServer } from './http-server.js';

const DOCS = 'https://docs.github.com/rest';

export type RouteName =
  | 'repository'
  | 'job'
  | 'jit'
  | 'runners'
  | 'deleteRunner'
  | 'orgJit'
  | 'orgRunners'
  | 'orgDeleteRunner'
  | 'deliveries'
  | 'redeliver'
  | 'listHooks'
  | 'createHook'
  | 'updateHook'
  | 'getHook'
  | 'removeToken'
  | 'orgRemoveToken'
  | 'runs'
  | 'rateLimit'
  | 'meta'
  | 'latestRelease'
  | 'releases';

const ROUTES: Record<RouteName, { method: string; path: string; pattern: RegExp }> = {
  repository: {
    method: 'get',
    path: '/repos/{owner}/{repo}',
    pattern: /^\/repos\/([^/]+)\/([^/]+)$/,
  },
  job: {
    method: 'get',
    path: '/repos/{owner}/{repo}/actions/jobs/{job_id}',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/actions\/jobs\/(\d+)$/,
  },
  jit: {
    method: 'post',
    path: '/repos/{owner}/{repo}/actions/runners/generate-jitconfig',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/actions\/runners\/generate-jitconfig$/,
  },
  runners: {
    method: 'get',
    path: '/repos/{owner}/{repo}/actions/runners',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/actions\/runners$/,
  },
  deleteRunner: {
    method: 'delete',
    path: '/repos/{owner}/{repo}/actions/runners/{runner_id}',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/actions\/runners\/(\d+)$/,
  },
  orgJit: {
    method: 'post',
    path: '/orgs/{org}/actions/runners/generate-jitconfig',
    pattern: /^\/orgs\/([^/]+)\/actions\/runners\/generate-jitconfig$/,
  },
  orgRunners: {
    method: 'get',
    path: '/orgs/{org}/actions/runners',
    pattern: /^\/orgs\/([^/]+)\/actions\/runners$/,
  },
  orgDeleteRunner: {
    method: 'delete',
    path: '/orgs/{org}/actions/runners/{runner_id}',
    pattern: /^\/orgs\/([^/]+)\/actions\/runners\/(\d+)$/,
  },
  listHooks: {
    method: 'get',
    path: '/repos/{owner}/{repo}/hooks',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/hooks$/,
  },
  createHook: {
    method: 'post',
    path: '/repos/{owner}/{repo}/hooks',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/hooks$/,
  },
  updateHook: {
    method: 'patch',
    path: '/repos/{owner}/{repo}/hooks/{hook_id}',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/hooks\/(\d+)$/,
  },
  deliveries: {
    method: 'get',
    path: '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/hooks\/(\d+)\/deliveries$/,
  },
  redeliver: {
    method: 'post',
    path: '/repos/{owner}/{repo}/hooks/{hook_id}/deliveries/{delivery_id}/attempts',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/hooks\/(\d+)\/deliveries\/(\d+)\/attempts$/,
  },
  // What `doctor` reads: a hook's settings, permission probes that register nothing, the rate limit.
  getHook: {
    method: 'get',
    path: '/repos/{owner}/{repo}/hooks/{hook_id}',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/hooks\/(\d+)$/,
  },
  removeToken: {
    method: 'post',
    path: '/repos/{owner}/{repo}/actions/runners/remove-token',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/actions\/runners\/remove-token$/,
  },
  orgRemoveToken: {
    method: 'post',
    path: '/orgs/{org}/actions/runners/remove-token',
    pattern: /^\/orgs\/([^/]+)\/actions\/runners\/remove-token$/,
  },
  runs: {
    method: 'get',
    path: '/repos/{owner}/{repo}/actions/runs',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs$/,
  },
  // What the function follows: actions/runner's releases (public: any credential, or none, may read them).
  latestRelease: {
    method: 'get',
    path: '/repos/{owner}/{repo}/releases/latest',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/releases\/latest$/,
  },
  releases: {
    method: 'get',
    path: '/repos/{owner}/{repo}/releases',
    pattern: /^\/repos\/([^/]+)\/([^/]+)\/releases$/,
  },
  rateLimit: { method: 'get', path: '/rate_limit', pattern: /^\/rate_limit$/ },
  meta: { method: 'get', path: '/meta', pattern: /^\/meta$/ },
};

/**
 * The fine-grained permission each route needs, as GitHub's "Permissions required for fine-grained personal
 * access tokens" lists it and its 403s name it (`x-accepted-github-permissions`). Write covers read.
 */
const PERMISSIONS: Partial<Record<RouteName, string>> = {
  repository: 'metadata=read',
  job: 'actions=read',
  runs: 'actions=read',
  jit: 'administration=write',
  runners: 'administration=read',
  deleteRunner: 'administration=write',
  removeToken: 'administration=write',
  orgJit: 'organization_self_hosted_runners=write',
  orgRunners: 'organization_self_hosted_runners=read',
  orgDeleteRunner: 'organization_self_hosted_runners=write',
  orgRemoveToken: 'organization_self_hosted_runners=write',
  deliveries: 'repository_hooks=read',
  redeliver: 'repository_hooks=write',
  listHooks: 'repository_hooks=read',
  getHook: 'repository_hooks=read',
  createHook: 'repository_hooks=write',
  updateHook: 'repository_hooks=write',
};

export interface RegisteredRunner {
  readonly id: number;
  readonly repository: string;
  readonly name: string;
  readonly labels: readonly string[];
  readonly runnerGroupId: number;
  readonly encodedJitConfig: string;
  /** The client id in its JIT config's `.credentials`: what the runner proves itself with. */
  readonly clientId: string;
  deleted: boolean;
  /** Running a job (set by a test: the stand-in runs no runners). */
  busy: boolean;
}

export interface RecordedCall {
  readonly route: RouteName | 'app' | 'unknown';
  readonly method: string;
  readonly path: string;
  readonly status: number;
  readonly authorization: string | undefined;
  /** When the answer was sent (ms since the epoch). */
  readonly at: number;
}

/** One attempt at delivering an event to the webhook, as GitHub records it. */
export interface DeliveryAttempt {
  readonly id: number;
  readonly guid: string;
  readonly repository: string;
  readonly hookId: number;
  readonly event: string;
  readonly action: string | null;
  readonly deliveredAt: string;
  readonly redelivery: boolean;
  /** Sent by a GitHub App's own webhook (listed at `/app/hook/deliveries`), not a repository's. */
  readonly app: boolean;
  statusCode: number;
  readonly payload: unknown;
}

/** A fault to inject on a route: an error status, a slow answer, or a dropped connection. */
export interface Fault {
  readonly status?: number;
  readonly retryAfterSeconds?: number;
  readonly delayMs?: number;
  readonly reset?: boolean;
  /** The error answer's `message` (GitHub's own text), for upstreams that echo what they were sent. */
  readonly message?: string;
}

export interface GitHubStandIn {
  readonly url: string;
  /** Runners registered through generate-jitconfig, in order (deleted ones are flagged). */
  readonly runners: RegisteredRunner[];
  readonly calls: RecordedCall[];
  readonly deliveries: DeliveryAttempt[];
  /** Answers that break GitHub's published contract (should stay empty). */
  readonly violations: string[];
  /** Installation ids of the installation tokens minted, in order. */
  readonly mintedInstallationTokens: number[];
  /** Requests refused for GitHub's rate limits (with `limits`), in order. */
  readonly limitViolations: readonly LimitViolation[];
  /** Repository webhooks as GitHub holds them (secrets masked), and the real secrets by hook id. */
  hooksOf(repository: string): readonly Record<string, unknown>[];
  hookSecret(id: number): string | undefined;
  /**
   * Makes the job known, from a webhook payload's `workflow_job` and its repository, in `status` (by default
   * `queued`, as when GitHub sends the `queued` delivery).
   */
  addJob(fullName: string, workflowJob: Record<string, unknown>, status?: string): void;
  setJobStatus(jobId: number, status: string): void;
  /** What `GET /repos/{owner}/{repo}` says of a repository's visibility (by default `private`). */
  setVisibility(fullName: string, visibility: 'public' | 'private' | 'internal'): void;
  /**
   * The releases of actions/runner GitHub lists (newest by `daysAgo` first); by default the pinned release,
   * published 40 days ago.
   */
  setRunnerReleases(releases: readonly StandInRelease[]): void;
  /** Sets what GitHub answers about the job besides its status (`runner_name`, `labels`, ...). */
  setJobFields(jobId: number, fields: Record<string, unknown>): void;
  /**
   * GitHub gives the job to a live runner (not necessarily the one made for it): the job is in progress on it and
   * the runner busy. Returns the runner, for the `in_progress` payload.
   */
  giveJob(jobId: number, runnerName: string): RegisteredRunner;
  /**
   * The next call to the route has its answer made, then waits for `hook` before the answer is sent: for putting
   * another delivery exactly between two steps of the function.
   */
  holdAnswer(route: RouteName, hook: () => Promise<void>): void;
  /** The next `count` calls to the route meet the fault. */
  failNext(route: RouteName, status: number, count?: number): void;
  inject(route: RouteName, fault: Fault, count?: number): void;
  /** From now on, each call meets one of `faults` with this probability (drawn from `random`); 0 turns it off. */
  chaos(probability: number, faults: readonly Fault[], random: () => number): void;
  /**
   * The runner service URL the JIT configs name (`.runner`'s `serverUrlV2`): where runners started from them ask
   * for their job. GitHub's own broker unless a test runs one (`runner-broker.ts`).
   */
  setRunnerService(url: string): void;
  /** Where `deliver()` sends, and the secret it signs with; `app` makes it a GitHub App's own webhook. */
  setHook(target: { url: string; secret: string; hookId?: number; app?: boolean }): void;
  /** Sends a payload to the function as GitHub does, and records the attempt; resolves with the status code. */
  deliver(
    event: string,
    payload: Record<string, unknown>,
    options?: { guid?: string; signal?: AbortSignal },
  ): Promise<number>;
  /**
   * Writes deliveries into the hook's history as answered with `statusCode`, without sending them: the traffic of
   * a busy hook (a matrix burst's thousands), in a test that is about the deliveries API rather than the function.
   */
  addPastDeliveries(
    event: string,
    payload: Record<string, unknown>,
    past: { count: number; statusCode: number; minutesAgo: number },
  ): void;
  /** Resolves once every delivery in flight (redeliveries included) has been answered. */
  settled(): Promise<void>;
  close(): Promise<void>;
}

export async function startGitHubStandIn(
  options: StandInAuthOptions & {
    /** Enforce GitHub's documented secondary rate limits, minutes compressed (see github-limits-stand-in.ts). */
    readonly limits?: StandInLimits;
    /** Where it listens: loopback, or the test node's bridge address when pods must reach it. */
    readonly host?: string;
  },
): Promise<GitHubStandIn> {
  const auth = createStandInAuth(options);
  const limiter = options.limits === undefined ? undefined : createStandInLimiter(options.limits);
  const jobs = new Map<string, Record<string, unknown>>();
  const visibilities = new Map<string, 'public' | 'private' | 'internal'>();
  const releases = createStandInReleases();
  /** The stand-in's own API URL, for the URLs in its answers (known once it listens). */
  let ownUrl = '';
  const apiUrl = () => ownUrl;
  const runners: RegisteredRunner[] = [];
  /** `repository\nname` of every runner not deleted: the name check of a JIT request without a scan. */
  const activeNames = new Set<string>();
  const nameKey = (runner: { repository: string; name: string }) => `${runner.repository}\n${runner.name}`;
  const calls: RecordedCall[] = [];
  const deliveries: DeliveryAttempt[] = [];
  const violations: string[] = [];
  const faults = new Map<RouteName, { fault: Fault; count: number }>();
  let chaos: { probability: number; faults: readonly Fault[]; random: () => number } | undefined;
  let hook: { url: string; secret: string; hookId: number; app: boolean } | undefined;
  const inFlight = new Set<Promise<number>>();
  let remaining = 5000;
  let nextRunnerId = 1;
  let runnerService = 'https://broker.actions.githubusercontent.com/';
  let nextDeliveryId = 1;

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
  /** The fault a call meets: an error answer, a reset, or (delay only) `{ delayMs }` for a slow real answer. */
  const injected = (route: RouteName): JsonResponse | { delayMs: number } | undefined => {
    const entry = faults.get(route);
    let fault: Fault | undefined;
    if (entry !== undefined && entry.count > 0) {
      entry.count -= 1;
      fault = entry.fault;
    } else if (chaos && chaos.random() < chaos.probability) {
      fault = chaos.faults[Math.floor(chaos.random() * chaos.faults.length)];
    }
    if (fault === undefined) return undefined;
    if (fault.reset)
      return {
        status: 0,
        body: undefined,
        reset: true,
        ...(fault.delayMs ? { delayMs: fault.delayMs } : {}),
      };
    if (fault.status === undefined) return fault.delayMs ? { delayMs: fault.delayMs } : undefined;
    const status = fault.status;
    return {
      ...error(
        status,
        fault.message ??
          (status === 429 ? 'API rate limit exceeded' : status >= 500 ? 'Server Error' : 'Injected failure'),
      ),
      ...(fault.retryAfterSeconds === undefined
        ? {}
        : { headers: { 'retry-after': String(fault.retryAfterSeconds) } }),
      ...(fault.delayMs ? { delayMs: fault.delayMs } : {}),
    };
  };

  function answer(route: RouteName, match: RegExpExecArray, request: JsonRequest): JsonResponse {
    const repository = `${match[1]}/${match[2]}`;
    switch (route) {
      case 'orgJit':
        return jitAnswer(`org:${match[1]}`, request.body);
      case 'orgRunners':
        return runnersAnswer(`org:${match[1]}`, request.url.searchParams);
      case 'orgDeleteRunner':
        return deleteRunnerAnswer(`org:${match[1]}`, Number(match[2]));
      case 'listHooks':
        return hooksPage(repository, request.url);
      case 'createHook':
        return createHook(repository, request.body);
      case 'updateHook':
        return updateHook(repository, Number(match[3]), request.body);
      case 'repository':
        return {
          status: 200,
          body: repositoryBody(
            apiUrl(),
            repository,
            700_000 + repository.length,
            visibilities.get(repository) ?? 'private',
          ),
        };
      case 'job': {
        const job = jobs.get(`${repository}#${match[3]}`);
        return job === undefined ? error(404, 'Not Found') : { status: 200, body: job };
      }
      case 'jit':
        return jitAnswer(repository, request.body);
      case 'runners':
        return runnersAnswer(repository, request.url.searchParams);
      case 'deleteRunner': {
        const runner = runners.find(
          (r) => r.repository === repository && r.id === Number(match[3]) && !r.deleted,
        );
        if (runner === undefined) return error(404, 'Not Found');
        runner.deleted = true;
        activeNames.delete(nameKey(runner));
        return { status: 204, body: undefined };
      }
      case 'deliveries':
        return deliveriesPage(
          deliveries.filter((d) => !d.app && d.repository === repository && d.hookId === Number(match[3])),
          request.url,
        );
      case 'getHook': {
        const found = repoHooks(repository).find((item) => item.id === Number(match[3]));
        return found === undefined ? error(404, 'Not Found') : { status: 200, body: found };
      }
      case 'removeToken':
      case 'orgRemoveToken':
        return {
          status: 201,
          body: {
            token: randomBytes(20).toString('hex').toUpperCase(),
            expires_at: new Date(Date.now() + 3600_000).toISOString().replace(/\.\d+Z$/, 'Z'),
          },
        };
      case 'runs':
        return { status: 200, body: { total_count: 0, workflow_runs: [] } };
      case 'latestRelease':
        return releases.latest(apiUrl(), repository, ifNoneMatch(request)) ?? error(404, 'Not Found');
      case 'releases':
        return releases.list(apiUrl(), repository, request.url, ifNoneMatch(request));
      case 'rateLimit': {
        const core = {
          limit: 5000,
          remaining,
          reset: Math.floor(Date.now() / 1000) + 3600,
          used: 5000 - remaining,
        };
        const search = { limit: 30, remaining: 30, reset: core.reset, used: 0 };
        return { status: 200, body: { resources: { core, search }, rate: core } };
      }
      case 'meta':
        // GitHub Enterprise Server (served under a path prefix, as /api/v3) says its version; github.com does not.
        return {
          status: 200,
          body: {
            verifiable_password_authentication: false,
            ...(options.pathPrefix ? { installed_version: options.enterpriseVersion ?? '3.17.0' } : {}),
          },
        };
      case 'redeliver': {
        const original = deliveries.find(
          (d) => !d.app && d.repository === repository && d.id === Number(match[4]),
        );
        if (original === undefined) return error(404, 'Not Found');
        void track(send(original.event, original.payload as Record<string, unknown>, original.guid, true));
        return { status: 202, body: {} };
      }
    }
  }

  /** A page of runners, as GitHub pages them (`per_page` up to 100, default 30; `page` from 1). */
  function runnersAnswer(scope: string, query: URLSearchParams): JsonResponse {
    const name = query.get('name');
    const perPage = Math.min(100, Number(query.get('per_page') ?? 30) || 30);
    const page = Math.max(1, Number(query.get('page') ?? 1) || 1);
    const found = runners.filter(
      (runner) => runner.repository === scope && !runner.deleted && (name === null || runner.name === name),
    );
    const slice = found.slice((page - 1) * perPage, page * perPage).map(runnerBody);
    return { status: 200, body: { total_count: found.length, runners: slice } };
  }

  function deleteRunnerAnswer(scope: string, id: number): JsonResponse {
    const runner = runners.find((r) => r.repository === scope && r.id === id && !r.deleted);
    if (runner === undefined) return error(404, 'Not Found');
    runner.deleted = true;
    activeNames.delete(nameKey(runner));
    return { status: 204, body: undefined };
  }

  const hooks = new Map<string, Record<string, unknown>[]>();
  let nextHookId = 400_000_000;
  function repoHooks(repository: string): Record<string, unknown>[] {
    const list = hooks.get(repository) ?? [];
    hooks.set(repository, list);
    return list;
  }
  /**
   * A page of a repository's hooks, as GitHub pages a list: `per_page` up to 100 (default 30), `page` from 1, and a
   * `Link` header naming the next and last pages while there are more.
   * https://docs.github.com/rest/using-the-rest-api/using-pagination-in-the-rest-api
   */
  function hooksPage(repository: string, url: URL): JsonResponse {
    const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30) || 30);
    const page = Math.max(1, Number(url.searchParams.get('page') ?? 1) || 1);
    const list = repoHooks(repository);
    const body = list.slice((page - 1) * perPage, page * perPage);
    if (page * perPage >= list.length) return { status: 200, body };
    const pageUrl = (number: number) => {
      const link = new URL(`${url.pathname}${url.search}`, new URL(apiUrl()).origin);
      link.searchParams.set('page', String(number));
      return link.href;
    };
    const last = Math.ceil(list.length / perPage);
    return {
      status: 200,
      body,
      headers: { link: `<${pageUrl(page + 1)}>; rel="next", <${pageUrl(last)}>; rel="last"` },
    };
  }
  function hookBody(
    repository: string,
    id: number,
    input: Record<string, unknown>,
    previous?: Record<string, unknown>,
  ) {
    const now = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
    const config = {
      ...((previous?.config as Record<string, unknown>) ?? {}),
      ...((input.config as object) ?? {}),
    };
    // GitHub never returns a hook's secret, only that one is set.
    if ('secret' in config) config.secret = '********';
    return {
      type: 'Repository',
      id,
      name: 'web',
      active: input.active ?? previous?.active ?? true,
      events: input.events ?? previous?.events ?? ['push'],
      config,
      updated_at: now,
      created_at: previous?.created_at ?? now,
      url: `https://api.github.com/repos/${repository}/hooks/${id}`,
      test_url: `https://api.github.com/repos/${repository}/hooks/${id}/test`,
      ping_url: `https://api.github.com/repos/${repository}/hooks/${id}/pings`,
      deliveries_url: `https://api.github.com/repos/${repository}/hooks/${id}/deliveries`,
      last_response: { code: null, status: 'unused', message: null },
    };
  }
  function createHook(repository: string, body: unknown): JsonResponse {
    const problems = operation('post', ROUTES.createHook.path).checkRequest(body);
    if (problems.length > 0) return error(422, `Invalid request.\n\n${problems.join('\n')}`);
    const hook = hookBody(repository, nextHookId++, body as Record<string, unknown>);
    repoHooks(repository).push(hook);
    secretsOfHooks.set(hook.id, ((body as { config?: { secret?: string } }).config?.secret as string) ?? '');
    return { status: 201, body: hook };
  }
  function updateHook(repository: string, id: number, body: unknown): JsonResponse {
    const problems = operation('patch', ROUTES.updateHook.path).checkRequest(body);
    if (problems.length > 0) return error(422, `Invalid request.\n\n${problems.join('\n')}`);
    const list = repoHooks(repository);
    const index = list.findIndex((hook) => hook.id === id);
    if (index < 0) return error(404, 'Not Found');
    const updated = hookBody(repository, id, body as Record<string, unknown>, list[index]);
    list[index] = updated;
    const secret = (body as { config?: { secret?: string } }).config?.secret;
    if (secret !== undefined) secretsOfHooks.set(id, secret);
    return { status: 200, body: updated };
  }
  const secretsOfHooks = new Map<number, string>();

  function runnerBody(runner: RegisteredRunner) {
    return {
      id: runner.id,
      name: runner.name,
      os: 'unknown',
      status: runner.busy ? 'online' : 'offline',
      busy: runner.busy,
      runner_group_id: runner.runnerGroupId,
      ephemeral: true,
      labels: runner.labels.map((name, index) => ({ id: index + 1, name, type: 'custom' })),
    };
  }

  function jitAnswer(repository: string, body: unknown): JsonResponse {
    const problems =
      options.checkContract === false ? [] : operation('post', ROUTES.jit.path).checkRequest(body);
    if (problems.length > 0) return error(422, `Invalid request.\n\n${problems.join('\n')}`);
    const request = body as { name: string; runner_group_id: number; labels: string[] };
    if (activeNames.has(nameKey({ repository, name: request.name }))) {
      return error(409, `Already exists - A runner with the name ${request.name} already exists.`);
    }
    const id = nextRunnerId++;
    const clientId = randomUUID();
    const encodedJitConfig = jitConfig(id, clientId, repository, request);
    const runner: RegisteredRunner = {
      id,
      clientId,
      repository,
      name: request.name,
      labels: request.labels,
      runnerGroupId: request.runner_group_id,
      encodedJitConfig,
      deleted: false,
      busy: false,
    };
    runners.push(runner);
    activeNames.add(nameKey(runner));
    return { status: 201, body: { runner: runnerBody(runner), encoded_jit_config: encodedJitConfig } };
  }

  /**
   * What GitHub's JIT config holds: the runner's settings files, each base64 JSON, as `config.sh` would write them
   * (`.runner`, `.credentials`, `.credentials_rsaparams`). `.runner` names the service the runner asks for jobs;
   * `.credentials` the client id it proves itself with (`runner-broker.ts` checks it).
   */
  function jitConfig(
    id: number,
    clientId: string,
    repository: string,
    request: { name: string; runner_group_id: number; work_folder?: string },
  ): string {
    const file = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64');
    const settings = {
      agentId: id,
      agentName: request.name,
      poolId: request.runner_group_id,
      poolName: 'Default',
      serverUrl: runnerService,
      serverUrlV2: runnerService,
      gitHubUrl: `https://github.com/${repository.replace(/^org:/, '')}`,
      workFolder: request.work_folder ?? '_work',
      useV2Flow: true,
      ephemeral: true,
    };
    const credentials = {
      scheme: 'OAuth',
      data: {
        clientId,
        authorizationUrl: `${runnerService}_apis/oauth2/token`,
        requireFipsCryptography: 'False',
      },
    };
    const rsaParameters = { modulus: randomBytes(24).toString('base64'), exponent: 'AQAB' };
    return file({
      '.runner': file(settings),
      '.credentials': file(credentials),
      '.credentials_rsaparams': file(rsaParameters),
    });
  }

  /**
   * A page of a webhook's deliveries as GitHub pages them: newest first, `per_page` up to 100 (default 30), and a
   * `Link` header with the next page's `cursor` while there are more.
   * https://docs.github.com/rest/repos/webhooks#list-deliveries-for-a-repository-webhook
   */
  function deliveriesPage(attempts: readonly DeliveryAttempt[], url: URL): JsonResponse {
    const perPage = Math.min(100, Number(url.searchParams.get('per_page') ?? 30) || 30);
    // The cursor names the newest delivery of the page (opaque to callers, as GitHub's is).
    const cursor = /^v1_(\d+)$/.exec(url.searchParams.get('cursor') ?? '')?.[1];
    const newestFirst = attempts.toReversed();
    const from = cursor === undefined ? 0 : newestFirst.findIndex((d) => d.id <= Number(cursor));
    const page = from < 0 ? [] : newestFirst.slice(from, from + perPage);
    const next = from < 0 ? undefined : newestFirst[from + perPage];
    if (next === undefined) return { status: 200, body: page.map(deliveryBody) };
    const link = new URL(`${url.pathname}${url.search}`, new URL(apiUrl()).origin);
    link.searchParams.set('cursor', `v1_${next.id}`);
    return { status: 200, body: page.map(deliveryBody), headers: { link: `<${link.href}>; rel="next"` } };
  }

  /** A delivery as the deliveries API lists it. */
  function deliveryBody(d: DeliveryAttempt) {
    const installation = (d.payload as { installation?: { id?: unknown } } | undefined)?.installation?.id;
    return {
      id: d.id,
      guid: d.guid,
      delivered_at: d.deliveredAt,
      redelivery: d.redelivery,
      duration: 0.01,
      status: d.statusCode >= 200 && d.statusCode < 300 ? 'OK' : 'Invalid HTTP Response: 502',
      status_code: d.statusCode,
      event: d.event,
      action: d.action,
      installation_id: typeof installation === 'number' ? installation : null,
      repository_id: 1,
    };
  }

  /** The deliveries of the App's own webhook: `GET /app/hook/deliveries` and redelivery, for the App's JWT. */
  function appHookRoute(request: JsonRequest): { route: string; answer: JsonResponse } | undefined {
    const path = request.url.pathname;
    const redeliver = /^\/app\/hook\/deliveries\/(\d+)\/attempts$/.exec(path);
    const list = path === '/app/hook/deliveries';
    if (!(request.method === 'GET' && list) && !(request.method === 'POST' && redeliver)) return undefined;
    const route = list ? 'get /app/hook/deliveries' : 'post /app/hook/deliveries/{delivery_id}/attempts';
    if (auth.appOf(request.headers.authorization) === undefined) {
      return { route, answer: error(401, 'A JSON web token could not be decoded') };
    }
    if (list) {
      return {
        route,
        answer: deliveriesPage(
          deliveries.filter((d) => d.app),
          request.url,
        ),
      };
    }
    const original = deliveries.find((d) => d.app && d.id === Number(redeliver?.[1]));
    if (original === undefined) return { route, answer: error(404, 'Not Found') };
    void track(send(original.event, original.payload as Record<string, unknown>, original.guid, true));
    return { route, answer: { status: 202, body: {} } };
  }

  function route(request: JsonRequest): { name: RouteName | 'app' | 'unknown'; answer: JsonResponse } {
    // The App's own endpoints (JWT-authenticated): its webhook's deliveries, its installations.
    const app =
      appHookRoute(request) ??
      auth.appRoute(request.method, request.url.pathname, request.headers.authorization);
    if (app !== undefined) {
      const [method, path] = app.route.split(' ') as [string, string];
      if (options.checkContract !== false) {
        for (const problem of operation(method, path).checkResponse(app.answer.status, app.answer.body)) {
          violations.push(`${app.route} ${app.answer.status}: ${problem}`);
        }
      }
      return { name: 'app', answer: app.answer };
    }
    // GitHub does not count reading the rate limit against it.
    if (request.url.pathname !== '/rate_limit') remaining = Math.max(0, remaining - 1);
    for (const [name, spec] of Object.entries(ROUTES) as [RouteName, (typeof ROUTES)[RouteName]][]) {
      const match = spec.pattern.exec(request.url.pathname);
      if (match && request.method.toLowerCase() === spec.method) {
        // Fine-grained PATs and installation tokens reach only their own owner's resources, and any public
        // repository's releases, which need no credential at all.
        const open = name === 'latestRelease' || name === 'releases';
        const allowed =
          name === 'meta' || (open && request.headers.authorization === undefined)
            ? 'ok'
            : auth.authorize(request.headers.authorization, match[1] ?? '');
        if (allowed === 'bad-credentials') return { name, answer: error(401, 'Bad credentials') };
        // The rate limit belongs to the credential, not to an owner.
        if (allowed === 'forbidden' && name !== 'rateLimit' && !open) {
          return { name, answer: error(403, 'Resource not accessible by personal access token') };
        }
        const permission = PERMISSIONS[name];
        if (permission !== undefined && !auth.permits(request.headers.authorization, permission)) {
          return {
            name,
            answer: {
              ...error(403, 'Resource not accessible by personal access token'),
              headers: { 'x-accepted-github-permissions': permission },
            },
          };
        }
        const fault = injected(name);
        const result: JsonResponse =
          fault === undefined || !('status' in fault)
            ? { ...answer(name, match, request), ...(fault ?? {}) }
            : fault;
        if (!result.reset && options.checkContract !== false) {
          for (const problem of operation(spec.method, spec.path).checkResponse(result.status, result.body)) {
            violations.push(`${spec.method.toUpperCase()} ${spec.path} ${result.status}: ${problem}`);
          }
        }
        return { name, answer: result };
      }
    }
    return { name: 'unknown', answer: error(404, 'Not Found') };
  }

  function ifNoneMatch(request: JsonRequest): string | undefined {
    const value = request.headers['if-none-match'];
    return typeof value === 'string' ? value : undefined;
  }

  function track(sending: Promise<number>): Promise<number> {
    inFlight.add(sending);
    void sending.finally(() => inFlight.delete(sending));
    return sending;
  }

  async function send(
    event: string,
    payload: Record<string, unknown>,
    guid: string,
    redelivery: boolean,
    signal?: AbortSignal,
  ): Promise<number> {
    if (hook === undefined) throw new Error('setHook() first');
    const repository = (payload.repository as { full_name?: string } | undefined)?.full_name ?? '';
    const attempt: DeliveryAttempt = {
      id: nextDeliveryId++,
      guid,
      repository,
      hookId: hook.hookId,
      event,
      action: typeof payload.action === 'string' ? payload.action : null,
      deliveredAt: new Date().toISOString().replace(/\.\d+Z$/, 'Z'),
      redelivery,
      app: hook.app,
      statusCode: 0,
      payload,
    };
    deliveries.push(attempt);
    const body = JSON.stringify(payload);
    try {
      const response = await fetch(hook.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'user-agent': 'GitHub-Hookshot/044aadd',
          'x-github-event': event,
          'x-github-delivery': guid,
          'x-github-hook-id': String(hook.hookId),
          'x-github-hook-installation-target-type': hook.app ? 'integration' : 'repository',
          'x-hub-signature-256': await sign(hook.secret, body),
        },
        body,
        // GitHub gives a delivery 10 seconds.
        signal: signal ?? AbortSignal.timeout(10_000),
      });
      await response.arrayBuffer();
      attempt.statusCode = response.status;
    } catch {
      attempt.statusCode = 0;
    }
    return attempt.statusCode;
  }

  const prefix = options.pathPrefix ?? '';
  const heldAnswers = new Map<RouteName, () => Promise<void>>();
  const server = await startJsonServer(async (incoming) => {
    if (!incoming.url.pathname.startsWith(`${prefix}/`)) {
      return { status: 404, body: { message: 'Not Found', documentation_url: DOCS } };
    }
    const url = new URL(incoming.url);
    url.pathname = incoming.url.pathname.slice(prefix.length);
    const request = { ...incoming, url };
    const credential = request.headers.authorization ?? '';
    if (limiter !== undefined) {
      const endpoint = endpointOf(request.method, url.pathname);
      const refused = limiter.admit(credential, request.method, endpoint);
      if (refused !== undefined) {
        calls.push({
          route: 'unknown',
          method: request.method,
          path: url.pathname,
          status: 403,
          authorization: credential,
          at: Date.now(),
        });
        return { ...refused, headers: { ...rateHeaders(), ...refused.headers } };
      }
    }
    try {
      return await answerRequest(request);
    } finally {
      limiter?.done(credential);
    }
  }, options.host);
  /** The endpoint a request counts against: its route template, or its path. */
  function endpointOf(method: string, path: string): string {
    for (const spec of Object.values(ROUTES)) {
      if (spec.pattern.test(path) && method.toLowerCase() === spec.method)
        return `${spec.method} ${spec.path}`;
    }
    return `${method.toLowerCase()} ${path.replace(/\d+/g, '{id}')}`;
  }
  async function answerRequest(request: JsonRequest): Promise<JsonResponse> {
    const { name, answer } = route(request);
    const held = name === 'app' || name === 'unknown' ? undefined : heldAnswers.get(name);
    // A held answer is sent as it was made, whatever the hook changes meanwhile (its body may be live state).
    const result = held === undefined ? answer : structuredClone(answer);
    if (held !== undefined) {
      heldAnswers.delete(name as RouteName);
      await held();
    }
    calls.push({
      route: name,
      method: request.method,
      path: request.url.pathname,
      status: result.status,
      authorization: request.headers.authorization,
      at: Date.now(),
    });
    return { ...result, headers: { ...rateHeaders(), ...result.headers } };
  }

  ownUrl = `${server.url}${prefix}`;
  return {
    url: ownUrl,
    runners,
    calls,
    deliveries,
    violations,
    mintedInstallationTokens: auth.minted,
    limitViolations: limiter?.violations ?? [],
    hooksOf: (repository) => hooks.get(repository) ?? [],
    hookSecret: (id) => secretsOfHooks.get(id),
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
    setRunnerReleases(list) {
      releases.set(list);
    },
    setVisibility(fullName, visibility) {
      visibilities.set(fullName, visibility);
    },
    setJobFields(jobId, fields) {
      for (const [key, job] of jobs) if (key.endsWith(`#${jobId}`)) Object.assign(job, fields);
    },
    setRunnerService(url) {
      runnerService = url.endsWith('/') ? url : `${url}/`;
    },
    giveJob(jobId, runnerName) {
      const runner = runners.find((one) => one.name === runnerName && !one.deleted);
      if (runner === undefined) throw new Error(`no live runner ${runnerName}`);
      runner.busy = true;
      const fields = { status: 'in_progress', runner_name: runnerName, runner_id: runner.id };
      for (const [key, job] of jobs) if (key.endsWith(`#${jobId}`)) Object.assign(job, fields);
      return runner;
    },
    holdAnswer(routeName, hook) {
      heldAnswers.set(routeName, hook);
    },
    failNext(routeName, status, count = 1) {
      faults.set(routeName, { fault: { status }, count });
    },
    inject(routeName, fault, count = 1) {
      faults.set(routeName, { fault, count });
    },
    chaos(probability, chaosFaults, random) {
      chaos = probability > 0 ? { probability, faults: chaosFaults, random } : undefined;
    },
    setHook(target) {
      hook = {
        url: target.url,
        secret: target.secret,
        hookId: target.hookId ?? 292430182,
        app: target.app === true,
      };
    },
    addPastDeliveries(event, payload, { count, statusCode, minutesAgo }) {
      if (hook === undefined) throw new Error('setHook() first');
      const repository = (payload.repository as { full_name?: string } | undefined)?.full_name ?? '';
      for (let index = 0; index < count; index += 1) {
        deliveries.push({
          id: nextDeliveryId++,
          guid: randomUUID(),
          repository,
          hookId: hook.hookId,
          event,
          action: typeof payload.action === 'string' ? payload.action : null,
          deliveredAt: new Date(Date.now() - minutesAgo * 60_000).toISOString().replace(/\.\d+Z$/, 'Z'),
          redelivery: false,
          app: hook.app,
          statusCode,
          payload,
        });
      }
    },
    deliver(event, payload, deliverOptions = {}) {
      return track(send(event, payload, deliverOptions.guid ?? randomUUID(), false, deliverOptions.signal));
    },
    async settled() {
      while (inFlight.size > 0) await Promise.allSettled([...inFlight]);
    },
    close: server.close,
  };
}
