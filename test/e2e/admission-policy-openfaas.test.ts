/**
 * The OpenFaaS install's admission policy (openfaas/admission-policy.yaml, a copy: kustomize loads no file from
 * outside its folder) is the Knative one but for the ServiceAccount it binds and its names, and its parameters are
 * those `npm run admission-params` makes for stack.yml's settings. On the real API server, with openfaas/rbac.yaml
 * and the OpenFaaS function's own token, its Jobs and Secrets are admitted, replacements too, and other names not.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { load, loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admissionParams } from '../../shared/admission/admission-params.js';
import { loadConfig } from '../../shared/config/load-config.js';
import { replacementName } from '../../shared/records/record-schema.js';
import {
  ensureNamespace,
  kubectl,
  kubectlStatus,
  serviceAccountKubeconfig,
  waitFor,
} from './support/cluster.js';
import { dryRunCreate, jitSecret, recordJob } from './support/shipped-policy.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');
const stack = load(read('stack.yml')) as {
  functions: Record<string, { environment: Record<string, string> }>;
};
const environment = Object.values(stack.functions)[0]?.environment ?? {};
const RUNNERS = environment.NAMESPACE ?? '';
const config = loadConfig({
  WEBHOOK_SECRET: 's',
  GITHUB_TOKEN: 't',
  NAMESPACE: RUNNERS,
  RUNNER_MODE: environment.RUNNER_MODE ?? '',
});
let kubeconfig: string | undefined;
/** A dry-run create with the OpenFaaS function's token. */
const asFunction = (object: unknown) => dryRunCreate(kubeconfig ?? '', object);

const job = (name: string) => recordJob(config, name);
const secret = (name: string) => jitSecret(RUNNERS, name);

describe('openfaas/admission-policy.yaml, read', () => {
  it('is the Knative policy but for the ServiceAccount it binds and its names', () => {
    const knative = read('knative/admission-policy.yaml')
      .replaceAll('system:serviceaccount:github-runners:', 'system:serviceaccount:openfaas-fn:')
      .replace(
        /(name|policyName): kube-actions-runner-(jobs|secrets)$/gm,
        '$1: kube-actions-runner-openfaas-$2',
      );
    expect(loadAll(read('openfaas/admission-policy.yaml'))).toEqual(loadAll(knative));
  });

  it("binds the account stack.yml runs the function as, and takes stack.yml's parameters", () => {
    expect(read('openfaas/admission-policy.yaml')).toContain(
      "request.userInfo.username == 'system:serviceaccount:openfaas-fn:kube-actions-runner'",
    );
    expect(load(read('openfaas/admission-params.yaml'))).toEqual(admissionParams(config));
    expect(read('openfaas/kustomization.yaml')).toMatch(
      /- admission-policy\.yaml\n\s+- admission-params\.yaml/,
    );
  });
});

describe('openfaas/admission-policy.yaml on the real API server, as the OpenFaaS function', () => {
  beforeAll(async () => {
    ensureNamespace('openfaas-fn');
    ensureNamespace(RUNNERS);
    for (const file of ['rbac.yaml', 'admission-policy.yaml', 'admission-params.yaml']) {
      kubectl(['apply', '-f', `${root}openfaas/${file}`]);
    }
    const account = serviceAccountKubeconfig(
      mkdtempSync(join(tmpdir(), 'kar-openfaas-')),
      'openfaas-fn',
      'kube-actions-runner',
    );
    kubeconfig = account;
    await waitFor('the policy to be in force', () =>
      asFunction(job('runner-42')).admitted && !asFunction(job('evil')).admitted ? true : undefined,
    );
  }, 120_000);
  afterAll(async () => {
    kubectlStatus(['delete', '-f', `${root}openfaas/admission-policy.yaml`]);
    if (kubeconfig === undefined) return;
    await waitFor('the policy to be gone', () => (asFunction(job('evil')).admitted ? true : undefined));
  }, 120_000);

  it.each(['runner-42', replacementName(42, 2)])('admits the Job %s and its Secret', (name) => {
    expect(asFunction(job(name)).output).toContain(`job.batch/${name}`);
    expect(asFunction(secret(name)).output).toContain(`secret/${name}`);
  });

  it.each(['runner-1-x', 'runner-1-2-3', 'evil'])('refuses a Job and a Secret named %s', (name) => {
    for (const object of [job(name), secret(name)]) {
      const answer = asFunction(object);
      expect(answer.admitted).toBe(false);
      expect(answer.output).toMatch(/ValidatingAdmissionPolicy 'kube-actions-runner-openfaas-/);
    }
  });
});
