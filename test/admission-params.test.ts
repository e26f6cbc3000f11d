import { readFileSync } from 'node:fs';
import { load, loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { admissionParams } from '../shared/admission/admission-params.js';
import { DEFAULT_RUNNER_IMAGES, loadConfig } from '../shared/config/load-config.js';
import { officialRunnerImage } from '../shared/config/runner-modes.js';

const knative = (file: string) => readFileSync(new URL(`../knative/${file}`, import.meta.url), 'utf8');

/** The plain `value` settings of the function's container in knative/service.yaml. */
function serviceEnv(): Record<string, string> {
  const service = load(knative('service.yaml')) as {
    spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
  };
  const env: Record<string, string> = {};
  for (const entry of service.spec.template.spec.containers[0]?.env ?? []) {
    if (entry.value !== undefined) env[entry.name] = entry.value;
  }
  return env;
}

describe('the admission policy parameters', () => {
  it('shipped in knative/ are what service.yaml’s settings make', () => {
    const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', ...serviceEnv() });
    expect(load(knative('admission-params.yaml'))).toEqual(admissionParams(config));
  });

  it('live in the namespace the runner Jobs go to, the one the Role and the policy cover', () => {
    const [namespace] = loadAll(knative('rbac.yaml')) as { kind: string; metadata: { name: string } }[];
    expect(namespace?.kind).toBe('Namespace');
    expect(serviceEnv().NAMESPACE).toBe(namespace?.metadata.name);
    expect(
      (load(knative('admission-params.yaml')) as { metadata: { namespace: string } }).metadata.namespace,
    ).toBe(namespace?.metadata.name);
  });

  it('follow the profiles: every image of every built pod, privileged only with a dind profile', () => {
    const profiles = [
      'profiles:',
      '  - name: small',
      '    match: small',
      '    mode: standard',
      '    image: registry.example/runner:2.330',
      '  - name: docker',
      '    match: docker',
      '    mode: dind',
      '    dindImage: registry.example/docker:28-dind',
    ].join('\n');
    const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', RUNNER_PROFILES: profiles });
    expect(admissionParams(config).data).toEqual({
      images: [DEFAULT_RUNNER_IMAGES.dind, 'registry.example/docker:28-dind', 'registry.example/runner:2.330']
        .sort()
        .join(' '),
      allowPrivileged: 'true',
      followRunnerReleases: 'true',
    });
    const plain = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', RUNNER_MODE: 'standard' });
    expect(admissionParams(plain).data).toEqual({
      images: DEFAULT_RUNNER_IMAGES.standard,
      allowPrivileged: 'false',
      followRunnerReleases: 'true',
    });
    const pinned = loadConfig({
      WEBHOOK_SECRET: 's',
      GITHUB_TOKEN: 't',
      RUNNER_MODE: 'standard',
      RUNNER_IMAGE: 'registry.example/runner:2.338.0',
    });
    expect(admissionParams(pinned).data).toEqual({
      images: 'registry.example/runner:2.338.0',
      allowPrivileged: 'false',
      followRunnerReleases: 'false',
    });
  });

  it("admit, with followRunnerReleases, the official image of a release and no other tag (the policy's pattern)", () => {
    // The policy's CEL `matches` is RE2; this pattern means the same in JavaScript.
    const policy = knative('admission-policy.yaml');
    const pattern = /c\.image\.matches\('([^']+)'\)/.exec(policy)?.[1] ?? '';
    expect(readFileSync(new URL('../openfaas/admission-policy.yaml', import.meta.url), 'utf8')).toContain(
      pattern,
    );
    const official = new RegExp(pattern);
    expect(official.test(officialRunnerImage('2.339.0'))).toBe(true);
    expect(official.test(officialRunnerImage('10.0.12'))).toBe(true);
    for (const image of [
      'ghcr.io/actions/actions-runner:latest',
      'ghcr.io/actions/actions-runner:v2.339.0',
      'ghcr.io/actions/actions-runner:2.339.0-evil',
      'ghcr.io/actions/actions-runner:2.339.0@sha256:0123abcd',
      'ghcr.io/actions/actions-runner:2.339',
      'ghcrxio/actions/actions-runner:2.339.0',
      'evil.example/ghcr.io/actions/actions-runner:2.339.0',
    ]) {
      expect(official.test(image), image).toBe(false);
    }
    expect(policy).toContain("params.data.followRunnerReleases == 'true'");
  });
});
