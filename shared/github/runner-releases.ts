/**
 * GitHub's runner releases, as the function follows them: profiles that name no image run the official image of
 * the newest (`runnerImageOf`). Read through the GitHub client (its budget, its proxy, its metrics), kept for an
 * hour and then asked again with `If-None-Match` (a 304 costs no rate limit) while the last answer is still used,
 * and never waited for longer than a delivery can spare: the first lookup of a process that cannot finish in
 * `lookupMs` leaves the pinned release, and a failed one the last release known.
 */
import type { Config } from '../config/load-config.js';
import { PINNED_RUNNER_VERSION } from '../config/runner-modes.js';
import { compareVersions, type RunnerRelease } from '../config/runner-version.js';
import { PermanentUpstreamError } from '../errors/errors.js';
import { deadlineIn } from '../retry/with-retries.js';
import { type GitHubClient, NOT_MODIFIED, type RepoRef, type Tagged } from './github-client.js';

export interface RunnerReleases {
  /**
   * The runner release that profiles following GitHub's releases run: GitHub's newest, once it has been out for
   * `settleMs` (its image is pushed after the release is published), else the newest before it. When GitHub's
   * newest is unknown (never read, or no answer within `lookupMs`): the last one known, else the pinned one.
   * Never throws.
   */
  followed(target?: RepoRef): Promise<string>;
  /** GitHub's newest runner release as last read, or undefined when it cannot be known now. Never throws. */
  newest(target?: RepoRef): Promise<RunnerRelease | undefined>;
  /** GitHub's runner releases, newest first, as last read, or undefined when unknown. Never throws. */
  releases(target?: RepoRef): Promise<readonly RunnerRelease[] | undefined>;
}

export interface RunnerReleasesOptions {
  readonly github: Pick<GitHubClient, 'latestRunnerRelease' | 'listRunnerReleases'>;
  /** Whose credential reads the releases when a call names none; none: unauthenticated. */
  readonly target?: RepoRef | undefined;
  /** Told of each lookup that failed (counted as `runner_release_lookup_failures_total`, logged). */
  readonly onFailure?: (error: unknown, what: 'latest' | 'list') => void;
  /** The clock of the cache and of a release's age, injectable for tests. */
  readonly now?: () => number;
  /** Longest a caller waits for a lookup (and the lookup's own deadline): a delivery is never held longer. */
  readonly lookupMs?: number;
  /** How long an answer is used before it is asked for again. */
  readonly refreshMs?: number;
  /**
   * After a failed lookup, how long the last answer (or the pinned release) is used before trying again; after an
   * answer asking again cannot change (a 404: an Enterprise Server without actions/runner), `refreshMs`.
   */
  readonly retryMs?: number;
  /**
   * How long a new release is out before it is followed: actions/runner's release workflow pushes the image in a
   * job after the release is made (`publish-image` needs `release`), and a pod made meanwhile could not pull it.
   */
  readonly settleMs?: number;
}

const HOUR_MS = 3600_000;

/** Builds the releases one process follows: one cache per endpoint, one lookup in flight at a time. */
export function createRunnerReleases(options: RunnerReleasesOptions): RunnerReleases {
  const { github, onFailure, lookupMs = 2000, refreshMs = HOUR_MS, retryMs = 60_000 } = options;
  const { settleMs = 2 * HOUR_MS } = options;
  const now = options.now ?? Date.now;
  const latest = cachedRead<RunnerRelease>(
    (target, etag) => github.latestRunnerRelease(target, etag, deadlineIn(lookupMs)),
    (error) => onFailure?.(error, 'latest'),
  );
  const list = cachedRead<RunnerRelease[]>(
    (target, etag) => github.listRunnerReleases(target, etag, deadlineIn(lookupMs)),
    (error) => onFailure?.(error, 'list'),
  );

  /**
   * An answer kept with its ETag, read again when older than `refreshMs`, one read at a time. A caller waits for a
   * read only when nothing is known yet; an older answer is used at once while it is read again.
   */
  function cachedRead<T>(
    read: (target: RepoRef | undefined, etag: string | undefined) => Promise<Tagged<T> | typeof NOT_MODIFIED>,
    failed: (error: unknown) => void,
  ) {
    let known: { value: T; etag: string | undefined; at: number } | undefined;
    let retryAt = Number.NEGATIVE_INFINITY;
    let pending: Promise<void> | undefined;
    return async (target: RepoRef | undefined, waitMs: number): Promise<T | undefined> => {
      const time = now();
      if (known !== undefined && time - known.at < refreshMs) return known.value;
      if (time < retryAt) return known?.value;
      pending ??= (async () => {
        // An answer is as old as its question: a read that takes long is not taken for a later one.
        const askedAt = now();
        try {
          const answer = await read(target, known?.etag);
          if (answer !== NOT_MODIFIED) known = { value: answer.value, etag: answer.etag, at: askedAt };
          else if (known !== undefined) known = { ...known, at: askedAt };
        } catch (error) {
          retryAt = now() + (error instanceof PermanentUpstreamError ? refreshMs : retryMs);
          failed(error);
        } finally {
          pending = undefined;
        }
      })();
      if (known === undefined) await within(pending, waitMs);
      return known?.value;
    };
  }

  const newest = (target: RepoRef | undefined, waitMs = lookupMs) => latest(target ?? options.target, waitMs);
  const releases = (target: RepoRef | undefined, waitMs = lookupMs) => list(target ?? options.target, waitMs);

  return {
    async followed(target) {
      const started = Date.now();
      const release = await newest(target);
      if (release === undefined) return PINNED_RUNNER_VERSION;
      if (now() - release.publishedAt >= settleMs) return release.version;
      // Out for less than `settleMs`: the newest before it that has settled, when the list says (a patch of an
      // older line may be newer by date, so by version); else the newest all the same (the kubelet retries a pull).
      const all = await releases(target, Math.max(0, lookupMs - (Date.now() - started)));
      const settled = (all ?? [])
        .filter((r) => compareVersions(r.version, release.version) < 0 && now() - r.publishedAt >= settleMs)
        .sort((a, b) => compareVersions(b.version, a.version))[0];
      return settled?.version ?? release.version;
    },
    newest: (target) => newest(target),
    releases: (target) => releases(target),
  };
}

/**
 * Whose credential reads the releases when no job's repository is at hand (`doctor`, a reconcile pass with no
 * records): the first of `repositories` or of RECONCILE_HOOKS, else with tokens an owner that has one (a token
 * reads any public repository; only the owner chooses it). Undefined in App mode without a repository:
 * unauthenticated.
 */
export function releaseTarget(config: Config, repositories: readonly RepoRef[] = []): RepoRef | undefined {
  const first: RepoRef | undefined = repositories[0] ?? config.reconcileHooks[0];
  if (first !== undefined) {
    return {
      owner: first.owner,
      repo: first.repo,
      ...(first.installationId === undefined ? {} : { installationId: first.installationId }),
    };
  }
  if (config.githubAuth.kind !== 'tokens') return undefined;
  const owner = [...config.githubAuth.tokens.keys()][0];
  if (owner !== undefined) return { owner, repo: 'runner' };
  return config.githubAuth.fallbackToken === undefined ? undefined : { owner: 'actions', repo: 'runner' };
}

/** Resolves when `promise` settles or `ms` have passed, whichever is first; never rejects. */
async function within(promise: Promise<void>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<void>((resolve) => {
    timer = setTimeout(resolve, ms);
    timer.unref();
  });
  try {
    await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
