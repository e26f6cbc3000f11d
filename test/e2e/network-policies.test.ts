/**
 * The NetworkPolicies in knative/ are what the real API server accepts: a strict server-side dry run, which also
 * runs the API server's own validation of the policy (each `except` must lie inside its `cidr`, ports and
 * protocols must be valid). A typo or a range outside its block must fail.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { dump, load, loadAll } from 'js-yaml';
import { beforeAll, describe, expect, it } from 'vitest';
import { ensureNamespace, kubectl } from './support/cluster.js';

const knative = fileURLToPath(new URL('../../knative/', import.meta.url));
const overlay = fileURLToPath(new URL('../../deployment/', import.meta.url));
const files = ['networkpolicy-runners.yaml', 'networkpolicy-function.yaml'];

function dryRun(input: string): { status: number; output: string } {
  try {
    const args = ['apply', '--dry-run=server', '--validate=strict', '-o', 'json', '-f', '-'];
    return { status: 0, output: kubectl(args, input) };
  } catch (error) {
    const failure = error as { status?: number; stderr?: string };
    return { status: failure.status ?? 1, output: failure.stderr ?? '' };
  }
}

beforeAll(() => {
  ensureNamespace('github-runners');
  ensureNamespace('github-runner-jobs');
});

describe('the NetworkPolicies against the real API server', () => {
  it.each(files)('%s passes a strict server-side dry run, unchanged by the server', (file) => {
    const source = readFileSync(`${knative}${file}`, 'utf8');
    const answer = dryRun(source);
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
    const stored = JSON.parse(answer.output) as {
      kind?: string;
      metadata?: { namespace?: string };
      spec?: unknown;
    };
    expect(stored.kind).toBe('NetworkPolicy');
    // Runner pods run in their own namespace, the function in its own (knative/rbac.yaml).
    expect(stored.metadata?.namespace).toBe(
      file === 'networkpolicy-runners.yaml' ? 'github-runner-jobs' : 'github-runners',
    );
    // The server kept every rule: nothing was dropped as unknown or defaulted away.
    const written = load(source) as { spec?: unknown };
    expect(stored.spec).toEqual(written.spec);
  });

  it("the plain Deployment's function policy is the overlay's patch, as the unit test models it, and passes", () => {
    type Policy = { kind?: string; metadata?: { name?: string }; spec?: Record<string, unknown> };
    const built = (loadAll(kubectl(['kustomize', overlay])) as Policy[]).filter(
      (item) => item.kind === 'NetworkPolicy',
    );
    expect(built.map((item) => item.metadata?.name).sort()).toEqual([
      'github-runners',
      'kube-actions-runner',
    ]);
    const policy = built.find((item) => item.metadata?.name === 'kube-actions-runner') as Policy;
    // test/network-policies.test.ts reads the patch's spec, less its directive, as what kustomize makes of it.
    const kustomization = load(readFileSync(`${overlay}kustomization.yaml`, 'utf8')) as {
      patches: { patch?: string }[];
    };
    const patch = kustomization.patches
      .map((item) => (item.patch === undefined ? {} : (load(item.patch) as Policy)))
      .find((item) => item.kind === 'NetworkPolicy') as Policy;
    const { $patch, ...spec } = patch.spec ?? {};
    expect($patch).toBe('replace');
    expect(policy.spec).toEqual(spec);
    const answer = dryRun(dump(policy));
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
    expect((JSON.parse(answer.output) as Policy).spec).toEqual(spec);
  });

  it('the kustomization lists both', () => {
    const built = kubectl(['kustomize', knative]);
    expect(built).toContain('name: github-runners\n');
    expect(built.match(/kind: NetworkPolicy/g)).toHaveLength(2);
  });

  it.each([
    [
      'networkpolicy-runners.yaml',
      'matchExpressions:',
      'matchExpression:',
      /unknown field "spec.podSelector.matchExpression"/,
    ],
    ['networkpolicy-function.yaml', 'policyTypes:', 'policyType:', /unknown field "spec.policyType"/],
    // The API server's own validation: an except outside its cidr, a bad protocol.
    [
      'networkpolicy-runners.yaml',
      '- 10.0.0.0/8',
      '- 10.0.0.0/33',
      /ipBlock.except\[0\]: Invalid value: "10.0.0.0\/33": must be a valid CIDR/,
    ],
    [
      'networkpolicy-runners.yaml',
      '- fc00::/7',
      '- 10.0.0.0/8',
      /to\[1\].ipBlock.except\[0\]: Invalid value: "10.0.0.0\/8": must be a strict subset of `cidr`/,
    ],
    ['networkpolicy-runners.yaml', 'protocol: TCP', 'protocol: TCPX', /protocol: Unsupported value: "TCPX"/],
  ])('a broken %s fails (%s -> %s)', (file, good, bad, message) => {
    const broken = readFileSync(`${knative}${file}`, 'utf8').replace(good, bad);
    const answer = dryRun(broken);
    expect(answer.status).not.toBe(0);
    expect(answer.output).toMatch(message);
  });
});
