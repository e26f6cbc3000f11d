/**
 * What ships in knative/ is what the real API server accepts: every manifest, and the whole kustomization, pass a
 * server-side dry run with strict field validation, against the Knative Serving, Knative Eventing and Prometheus
 * Operator CRDs from their published modules. A typo must fail.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureNamespace, kubectl } from './support/cluster.js';

const knative = fileURLToPath(new URL('../../knative/', import.meta.url));
const crdScript = fileURLToPath(new URL('../../scripts/control-plane/crds.sh', import.meta.url));
const manifests = readdirSync(knative).filter(
  (file) => file.endsWith('.yaml') && file !== 'kustomization.yaml',
);

function dryRun(input: string): { status: number; output: string } {
  try {
    return {
      status: 0,
      output: kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], input),
    };
  } catch (error) {
    const failure = error as { status?: number; stderr?: string };
    return { status: failure.status ?? 1, output: failure.stderr ?? '' };
  }
}

beforeAll(() => {
  const crds = execFileSync('bash', [crdScript], { encoding: 'utf8' }).trim().split('\n');
  expect(crds.length).toBeGreaterThanOrEqual(10);
  for (const crd of crds) kubectl(['apply', '--server-side', '-f', crd]);
  kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  ensureNamespace('github-runners');
}, 120_000);

describe('knative/ against the real API server', () => {
  it.each(manifests)('%s passes a strict server-side dry run', (file) => {
    const answer = dryRun(readFileSync(`${knative}${file}`, 'utf8'));
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
    expect(answer.output).toMatch(/\(server dry run\)/);
  });

  it('the kustomization builds and passes as a whole', () => {
    const built = kubectl(['kustomize', knative]);
    expect(built).toContain('kind: ConfigMap');
    const answer = dryRun(built);
    expect(answer.status).toBe(0);
    expect(answer.output).toContain(
      'service.serving.knative.dev/kube-actions-runner created (server dry run)',
    );
  });

  it.each([
    ['service.yaml', 'containerConcurrency', 'containerConcurency'],
    ['servicemonitor.yaml', 'interval:', 'intervall:'],
    ['reconcile-pingsource.yaml', 'schedule:', 'shedule:'],
    ['rbac.yaml', 'roleRef:', 'roleref:'],
  ])('a typo in %s fails (%s -> %s)', (file, good, typo) => {
    const broken = readFileSync(`${knative}${file}`, 'utf8').replace(good, typo);
    const answer = dryRun(broken);
    expect(answer.status).not.toBe(0);
    expect(answer.output).toMatch(/unknown field|strict decoding error/);
  });
});
