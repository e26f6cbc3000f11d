/**
 * `npm run render -- --labels self-hosted,linux,gpu [--profiles FILE] [--mode MODE] [--release VERSION]`
 *
 * Prints, as YAML, the Job and Secret (JIT value redacted) that a queued job with those labels would get: the
 * same profile choice and the same builders as the handler, with no cluster and no credentials. Its first lines
 * say which profile it is and the runner image it resolved: for a profile that follows GitHub's releases, the
 * newest, read from GITHUB_API_URL without a credential within 2 s as the function reads it (the pinned release
 * when it cannot be read), or `--release`'s without asking GitHub. Other settings (NAMESPACE, RUNNER_IMAGE,
 * LABEL_MATCHERS, ...) are read from the environment as the function reads them.
 */

import { dump as dumpYaml } from 'js-yaml';
import { ConfigError, loadConfig } from '../shared/config/load-config.js';
import { readSecretFiles } from '../shared/config/read-secret-files.js';
import { DEFAULT_DIND_IMAGES, RUNNER_MODES, type RunnerMode } from '../shared/config/runner-modes.js';
import { versionOfTag } from '../shared/config/runner-version.js';
import { withoutCredentials } from '../shared/config/without-credentials.js';
import { sampleRecordFields } from '../shared/doctor/sample-record.js';
import { NoCredentialError } from '../shared/errors/errors.js';
import { createGitHubClient } from '../shared/github/github-client.js';
import { createRunnerReleases } from '../shared/github/runner-releases.js';
import { createHttpFetch } from '../shared/http/http-fetch.js';
import { buildJitSecret } from '../shared/modes/build-jit-secret.js';
import { chooseProfile, runnerImageOf } from '../shared/profiles/runner-profile.js';
import { buildRecordJob } from '../shared/records/build-record-job.js';
import { runnerJobName, runnerLabels } from '../shared/records/record-schema.js';
import { parseCommandLine } from './command-line.js';

const usage =
  'usage: npm run render -- --labels self-hosted,linux[,...] [--profiles FILE] [--mode MODE] [--release VERSION]';
function fail(message: string, code = 2): never {
  process.stderr.write(`${message}\n`);
  process.exit(code);
}

const values = parseCommandLine(
  {
    labels: { type: 'string' },
    profiles: { type: 'string' },
    mode: { type: 'string' },
    release: { type: 'string' },
  },
  usage,
  (message) => fail(`${message}\n${usage}`),
);
if (!values.labels) fail(`--labels is required\n${usage}`);
if (values.mode !== undefined && !(RUNNER_MODES as readonly string[]).includes(values.mode)) {
  fail(`--mode must be one of ${RUNNER_MODES.join(', ')}`);
}
const asked = values.release === undefined ? undefined : versionOfTag(values.release);
if (values.release !== undefined && asked === undefined) {
  fail(`--release must be a runner release version such as 2.339.0\n${usage}`);
}
const labels = values.labels
  .split(',')
  .map((label) => label.trim())
  .filter(Boolean);

let config: ReturnType<typeof loadConfig>;
try {
  config = loadConfig(
    // Rendering needs no credentials: a wrong one must not stop it.
    readSecretFiles({
      ...withoutCredentials(process.env),
      ...(values.profiles ? { RUNNER_PROFILES: undefined, RUNNER_PROFILES_FILE: values.profiles } : {}),
      ...(values.mode && !values.profiles ? { RUNNER_MODE: values.mode } : {}),
    }),
  );
} catch (error) {
  fail(error instanceof ConfigError ? error.problems.join('\n') : (error as Error).message);
}

const choice = chooseProfile(config.profiles, labels);
const chosen = choice.profile;
if (chosen === undefined)
  fail(`no profile serves [${labels.join(', ')}]: the job would get no runner ("${choice.reason}")`, 1);
// A profile's default daemon image is its mode's: another mode brings its own default with it.
const overridden = (mode: RunnerMode) => ({
  ...chosen,
  mode,
  dindImage:
    chosen.dindImage === DEFAULT_DIND_IMAGES[chosen.mode] ? DEFAULT_DIND_IMAGES[mode] : chosen.dindImage,
});
const profile = values.mode ? overridden(values.mode as RunnerMode) : chosen;

/** The release a profile that follows GitHub's releases runs, and where it came from, as the function has it. */
async function followedRelease(): Promise<{ release: string | undefined; why: string }> {
  if (!profile.followsReleases)
    return { release: undefined, why: 'named by the profile (or RUNNER_IMAGE): pinned' };
  if (asked !== undefined)
    return { release: asked, why: "--release's: the profile follows GitHub's releases" };
  const httpFetch = createHttpFetch({ proxy: config.proxy });
  let failure: string | undefined;
  try {
    const releases = createRunnerReleases({
      github: createGitHubClient({
        baseUrl: config.githubApiUrl,
        fetch: httpFetch as unknown as typeof fetch,
        credentials: {
          credentialFor: () => Promise.reject(new NoCredentialError('render uses no credentials')),
        },
      }),
      onFailure: (error) => {
        failure = (error as Error).message;
      },
    });
    const release = await releases.followed();
    const newest = await releases.newest();
    if (newest === undefined) {
      return {
        release,
        why: `the pinned release: GitHub's newest could not be read from ${config.githubApiUrl} (${failure ?? 'no answer within 2 s'}; pass --release VERSION)`,
      };
    }
    return {
      release,
      why:
        newest.version === release
          ? `GitHub's newest release: the profile follows GitHub's releases`
          : `the newest before ${newest.version}, out less than 2 hours: the profile follows GitHub's releases`,
    };
  } finally {
    httpFetch.close();
  }
}

const { release, why } = await followedRelease();
const fields = sampleRecordFields(labels);
const job = buildRecordJob(config, profile, fields, undefined, undefined, release);
// The handler creates the Job suspended, and resumes it once the Secret exists: show it as it then runs.
if (job.spec) job.spec.suspend = false;
const secret = buildJitSecret({
  namespace: config.namespace,
  job: { name: runnerJobName(fields.jobId), uid: 'UID-OF-THE-JOB' },
  labels: runnerLabels(fields),
  encodedJitConfig: '<redacted: the JIT config GitHub returns>',
});
// `npm run render ... | head`: a reader that stops early is no error of ours (Node would print a stack trace).
process.stdout.on('error', (error: NodeJS.ErrnoException) => {
  if (error.code !== 'EPIPE') throw error;
  process.exit(0);
});
process.stdout.write(
  `# profile "${profile.name}" (mode ${profile.mode}) for labels [${labels.join(', ')}]\n` +
    `# runner image ${runnerImageOf(profile, release)}: ${why}\n`,
);
// Plain YAML: js-yaml would print an object the Job holds twice (its labels, a security context) as an anchor and
// aliases (`&ref_0`, `*ref_0`), which kubectl takes but a reader cannot follow.
const yaml = (value: unknown) => dumpYaml(value, { noRefs: true });
process.stdout.write(`${yaml(job)}---\n${yaml(secret)}`);
