import type { Config } from '../config/load-config.js';
import type { RunnerReleases } from '../github/runner-releases.js';
import { selectProfile } from '../profiles/runner-profile.js';
import { buildRecordJob } from '../records/build-record-job.js';
import { type Check, fail, notRun, pass, warn } from './check.js';
import { runnerVersionChecks } from './runner-version-checks.js';
import { sampleLabels, sampleRecordFields } from './sample-record.js';

/** The configuration as loaded: a Config, or every problem found in it. */
export type LoadedConfig = { readonly config: Config } | { readonly problems: readonly string[] };

/**
 * The function's own checks: its configuration (every problem at once, as `npm start` reports them), and for each
 * profile (or `--labels`), what `render` would make of a job: which profile is chosen, its mode and images; and
 * the runner release each profile's image runs, against GitHub's minimum and, with `releases` (GitHub's, read as the
 * function reads them), GitHub's deadline for it. A profile that follows releases is rendered with the one it
 * would run now.
 */
export function functionChecks(
  loaded: LoadedConfig,
  labels?: readonly string[],
  releases?: RunnerReleases,
  now?: () => number,
): Check[] {
  const checks: Check[] = [
    {
      group: 'function',
      check: 'configuration valid',
      run: async () =>
        'config' in loaded
          ? pass(
              `${loaded.config.profiles.length} profile(s), runners in namespace ${loaded.config.namespace}`,
            )
          : fail(loaded.problems.join('; '), 'fix each setting named (README, Configuration)'),
    },
  ];
  if (!('config' in loaded)) {
    checks.push({
      group: 'function',
      check: 'runner Jobs render',
      run: async () => notRun('the configuration is invalid'),
    });
    return checks;
  }
  const { config } = loaded;
  const samples = labels === undefined ? config.profiles.map((profile) => sampleLabels(profile)) : [labels];
  for (const sample of samples) {
    checks.push({
      group: 'function',
      check: `a job on [${sample.join(', ')}]`,
      async run() {
        const chosen = selectProfile(config.profiles, sample);
        if (chosen === undefined) {
          return warn(
            'no profile matches: the job would be answered "job labels do not match"',
            'add a profile (or LABEL_MATCHERS alternative) for these labels',
          );
        }
        const release = chosen.followsReleases ? await releases?.followed() : undefined;
        const job = buildRecordJob(config, chosen, sampleRecordFields(sample), undefined, undefined, release);
        const pod = job.spec?.template.spec;
        const images = new Set(
          [...(pod?.containers ?? []), ...(pod?.initContainers ?? [])].map((container) => container.image),
        );
        const seen = `profile ${chosen.name} (${chosen.mode}): ${[...images].join(', ')}`;
        // A profile an earlier one always wins over never runs.
        if (labels === undefined && chosen !== config.profiles[samples.indexOf(sample)]) {
          return warn(
            `${seen}; profile ${config.profiles[samples.indexOf(sample)]?.name} is never chosen for it`,
            'order the profiles from the most specific match to the least',
          );
        }
        return pass(seen);
      },
    });
  }
  return checks.concat(runnerVersionChecks(config, releases, now));
}
