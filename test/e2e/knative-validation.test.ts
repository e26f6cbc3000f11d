/**
 * A strict server-side dry run checks the CRD schema only; the Knative webhooks refuse more (fields behind
 * feature flags that a default install switches off, such as the downward API). This runs Knative's own
 * defaulting and validation code (scripts/knative-validate, built from Knative's Go modules) on every Knative
 * object we ship, with every feature flag at its default: what a stock install accepts.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { kubectl } from './support/cluster.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const validator = `${root}scripts/knative-validate/run.sh`;

/** Knative's verdict on the manifests: the exit status and one ACCEPTED/REFUSED line per Knative object. */
function knativeValidate(manifests: string): { status: number; output: string } {
  try {
    return { status: 0, output: execFileSync('bash', [validator], { input: manifests, encoding: 'utf8' }) };
  } catch (error) {
    const failure = error as { status?: number; stdout?: string; stderr?: string };
    return { status: failure.status ?? 1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

const service = readFileSync(`${root}knative/service.yaml`, 'utf8');

beforeAll(() => {
  // Builds the validator once (minutes on a fresh machine), then it is cached by the hash of its sources.
  knativeValidate('');
}, 1_800_000);

describe("Knative's own admission checks, default feature flags", () => {
  it('accept the Knative Service as the kustomization and the README apply it', () => {
    const answer = knativeValidate(kubectl(['kustomize', `${root}knative`]));
    expect(answer.output).toContain('ACCEPTED Service/kube-actions-runner');
    expect(answer.output).not.toContain('REFUSED');
    expect(answer.status).toBe(0);
  });

  it('refuse the downward API (fieldRef), which a default install switches off', () => {
    const withFieldRef = service.replace(
      /^( +)env:\n/m,
      '$1env:\n$1  - name: NAMESPACE\n$1    valueFrom:\n$1      fieldRef:\n$1        fieldPath: metadata.namespace\n',
    );
    expect(withFieldRef).toContain('fieldRef');
    const answer = knativeValidate(withFieldRef);
    expect(answer.status).toBe(1);
    expect(answer.output).toContain(
      'must not set the field(s): spec.template.spec.containers[0].env[0].valueFrom.fieldRef',
    );
  });

  it.each([
    [
      'a nodeSelector (feature kubernetes.podspec-nodeselector)',
      'serviceAccountName:',
      'nodeSelector: { disk: ssd }\n      serviceAccountName:',
    ],
    ['an unknown field', 'containerConcurrency:', 'containerConcurency:'],
    ['a timeout above the maximum', 'timeoutSeconds: 9', 'timeoutSeconds: 9000'],
  ])('refuse %s', (_what, good, bad) => {
    expect(service).toContain(good);
    const answer = knativeValidate(service.replace(good, bad));
    expect(answer.output).toContain('REFUSED Service/kube-actions-runner');
    expect(answer.status).toBe(1);
  });
});
