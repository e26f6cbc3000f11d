/**
 * `npm run admission-params [-- --profiles FILE]`
 *
 * Prints, as YAML, the ConfigMap of the admission policy's parameters (`knative/admission-policy.yaml`): the images
 * the runner pods of this configuration run and whether any is privileged, taken from the Jobs the real builders
 * make for each profile. Settings (NAMESPACE, RUNNER_MODE, RUNNER_IMAGE, DIND_IMAGE, RUNNER_PROFILES_FILE) are read
 * from the environment as the function reads them. Apply the output whenever the profiles change:
 * `npm run --silent admission-params | kubectl apply -f -`.
 */
import { parseArgs } from 'node:util';
import { dump as dumpYaml } from 'js-yaml';
import { admissionParams } from '../shared/admission/admission-params.js';
import { ConfigError, loadConfig } from '../shared/config/load-config.js';
import { readSecretFiles } from '../shared/config/read-secret-files.js';
import { withoutCredentials } from '../shared/config/without-credentials.js';

const { values } = parseArgs({ options: { profiles: { type: 'string' } }, strict: true });
try {
  const config = loadConfig(
    // No credentials are used here: a wrong one must not stop it.
    readSecretFiles({
      ...withoutCredentials(process.env),
      ...(values.profiles ? { RUNNER_PROFILES: undefined, RUNNER_PROFILES_FILE: values.profiles } : {}),
    }),
  );
  process.stdout.write(dumpYaml(admissionParams(config), { lineWidth: 200, noRefs: true }));
} catch (error) {
  const problems = error instanceof ConfigError ? error.problems : [(error as Error).message];
  process.stderr.write(`${problems.join('\n')}\n`);
  process.exit(2);
}
