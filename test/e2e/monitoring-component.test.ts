/**
 * Monitoring is opt-in (issue #18): the base kustomization applies on a cluster with Knative only, and the
 * monitoring component applies where the Prometheus Operator is installed. Both judged by the real API server
 * (server-side dry run, strict field validation), with the Prometheus Operator's CRDs really absent for the
 * first and present for the second.
 */
import { execFileSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ensureNamespace, kubectl, kubectlStatus } from './support/cluster.js';

const knative = fileURLToPath(new URL('../../knative/', import.meta.url));
const monitoring = `${knative}monitoring/`;
const withMonitoring = fileURLToPath(new URL('../../examples/knative-with-monitoring/', import.meta.url));
const crdScript = fileURLToPath(new URL('../../scripts/control-plane/crds.sh', import.meta.url));
let crds: string[];

function dryRun(input: string): { status: number; output: string } {
  try {
    return {
      status: 0,
      output: kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], input),
    };
  } catch (error) {
    const failure = error as { status?: number; stdout?: string; stderr?: string };
    return { status: failure.status ?? 1, output: `${failure.stdout ?? ''}${failure.stderr ?? ''}` };
  }
}

const operatorCrds = () => crds.filter((crd) => crd.includes('monitoring.coreos.com_'));

function installCrds(paths: string[]): void {
  for (const crd of paths) kubectl(['apply', '--server-side', '-f', crd]);
  kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
}

beforeAll(() => {
  crds = execFileSync('bash', [crdScript], { encoding: 'utf8' }).trim().split('\n');
  expect(operatorCrds()).toHaveLength(3);
  installCrds(crds);
  ensureNamespace('github-runners');
  // The base makes the runners' namespace too; a dry run does not keep it for the objects that go in it.
  ensureNamespace('github-runner-jobs');
}, 120_000);

// Leave the cluster as the other suites expect it: with every CRD.
afterAll(() => installCrds(crds), 120_000);

describe('the base on a cluster with Knative only', () => {
  it('has no Prometheus Operator kinds and passes a strict server-side dry run without their CRDs', () => {
    for (const crd of operatorCrds()) kubectl(['delete', '--wait=true', '--ignore-not-found', '-f', crd]);
    expect(kubectlStatus(['get', 'crd', 'podmonitors.monitoring.coreos.com']).status).not.toBe(0);
    const built = kubectl(['kustomize', knative]);
    expect(built).not.toContain('monitoring.coreos.com');
    const answer = dryRun(built);
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
    expect(answer.output).toContain(
      'service.serving.knative.dev/kube-actions-runner created (server dry run)',
    );
    // The check can fail: the monitoring overlay needs those CRDs, and is refused without them.
    const refused = dryRun(kubectl(['kustomize', withMonitoring]));
    expect(refused.status).not.toBe(0);
    // kubectl says so itself, or (when its discovery cache still remembers the deleted CRD) the API server does.
    expect(refused.output).toMatch(
      /no matches for kind "PodMonitor"|ensure CRDs are installed first|could not find the requested resource \(post podmonitors\.monitoring\.coreos\.com\)/,
    );
  });
});

describe('the monitoring component with the Prometheus Operator', () => {
  it('the base plus the component builds and passes a strict server-side dry run', () => {
    installCrds(operatorCrds());
    const built = kubectl(['kustomize', withMonitoring]);
    for (const kind of ['PodMonitor', 'PrometheusRule', 'Deployment', 'ConfigMap']) {
      expect(built).toContain(`kind: ${kind}`);
    }
    expect(built).toContain('METRICS_STATSD_ADDRESS');
    const answer = dryRun(built);
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
    expect(answer.output).toContain('podmonitor.monitoring.coreos.com/kube-actions-runner-statsd created');
    expect(answer.output).toContain('prometheusrule.monitoring.coreos.com/kube-actions-runner created');
  });

  it.each(
    readdirSync(monitoring).filter(
      (file) => file.endsWith('.yaml') && file !== 'kustomization.yaml' && file !== 'statsd-mapping.yaml',
    ),
  )('%s passes a strict server-side dry run on its own', (file) => {
    const answer = dryRun(readFileSync(`${monitoring}${file}`, 'utf8'));
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
  });

  it.each([
    ['podmonitor.yaml', 'podMetricsEndpoints', 'podMetricEndpoints'],
    ['statsd-exporter.yaml', 'readOnlyRootFilesystem', 'readOnlyRootFileSystem'],
    ['prometheus-rules.yaml', 'expr:', 'expression:'],
  ])('a typo in %s fails (%s -> %s)', (file, good, typo) => {
    const answer = dryRun(readFileSync(`${monitoring}${file}`, 'utf8').replace(good, typo));
    expect(answer.status).not.toBe(0);
    expect(answer.output).toMatch(/unknown field|strict decoding error/);
  });
});
