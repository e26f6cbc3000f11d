import type { Config } from '../../shared/config/load-config.js';
import type { CredentialBudget } from '../../shared/github/credential-budget.js';
import type { GitHubClient } from '../../shared/github/github-client.js';
import type { RunnerReleases } from '../../shared/github/runner-releases.js';
import type { NodeReader } from '../../shared/kubernetes/node-platforms.js';
import type { Metrics } from '../../shared/metrics/create-metrics.js';
import type { RecordStore } from '../../shared/records/record-store.js';

/** What the use cases are built from, by `createDeps` in production and by the tests with stand-ins. */
export interface HandlerDeps {
  readonly config: Config;
  readonly github: GitHubClient;
  /** Each credential's share of GitHub's limits and its pause (what `doctor` reports); the client asks it. */
  readonly budget?: CredentialBudget;
  readonly records: RecordStore;
  readonly metrics: Metrics;
  /** The cluster's nodes, when the function may list them (optional ClusterRole); absent: never asked. */
  readonly nodes?: NodeReader;
  /**
   * GitHub's runner releases, which the profiles that name no image follow; absent: they run the pinned release.
   */
  readonly runnerReleases?: RunnerReleases;
  /** The clock, injectable for tests. */
  readonly now?: () => number;
}
