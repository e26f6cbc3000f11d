/**
 * The NetworkPolicies select what they are meant to: the runner policy the pods the builder really makes (every
 * mode, every profile), and not the function; the function policy the pods Knative labels, not the runners, and
 * under the plain Deployment (deployment/, which patches it) the Deployment's pods. Their egress blocks keep the
 * cluster's ranges and the metadata endpoint out and let the internet in. The real API server's strict dry run of
 * the same files, and of the overlay as kustomize builds it, is in test/e2e/network-policies.test.ts.
 */
import { readFileSync } from 'node:fs';
import { BlockList, isIPv6 } from 'node:net';
import { fileURLToPath } from 'node:url';
import type {
  V1Deployment,
  V1IPBlock,
  V1LabelSelector,
  V1NetworkPolicyPort,
  V1Service,
} from '@kubernetes/client-node';
import { load } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { RUNNER_MODES } from '../shared/config/runner-modes.js';
import { buildRunnerJob } from '../shared/records/build-runner-job.js';
import { profileOf } from './support/profiles.js';

/** A NetworkPolicy as written in YAML (client-node's model calls `from` `_from`). */
interface Peer {
  readonly podSelector?: V1LabelSelector;
  readonly namespaceSelector?: V1LabelSelector;
  readonly ipBlock?: V1IPBlock;
}
interface NetworkPolicy {
  readonly spec?: {
    readonly podSelector?: V1LabelSelector;
    readonly policyTypes?: string[];
    readonly ingress?: { readonly from?: Peer[]; readonly ports?: V1NetworkPolicyPort[] }[];
    readonly egress?: { readonly to?: Peer[]; readonly ports?: V1NetworkPolicyPort[] }[];
  };
}

const read = (path: string) =>
  load(readFileSync(fileURLToPath(new URL(`../${path}`, import.meta.url)), 'utf8'));
const policy = (file: string) => read(`knative/${file}`) as NetworkPolicy;
const runners = policy('networkpolicy-runners.yaml');
const functionPolicy = policy('networkpolicy-function.yaml');

/**
 * The function's policy as `kubectl apply -k deployment/` installs it: the base's, unless the overlay patches it.
 * The one patch form modelled is the one used, an inline strategic merge with `$patch: replace` on the spec (the
 * e2e test holds this model to kustomize's own build); any other patch of the policy fails here rather than be
 * misread.
 */
function deploymentFunctionPolicy(): NetworkPolicy {
  const kustomization = read('deployment/kustomization.yaml') as { patches?: { patch?: string }[] };
  for (const { patch: text } of kustomization.patches ?? []) {
    if (text === undefined) continue;
    const patch = load(text) as NetworkPolicy & { kind?: string; metadata?: { name?: string } };
    if (patch.kind !== 'NetworkPolicy' || patch.metadata?.name !== 'kube-actions-runner') continue;
    const { $patch, ...spec } = (patch.spec ?? {}) as Record<string, unknown>;
    if ($patch !== 'replace') throw new Error('deployment/: only a spec with $patch: replace is modelled');
    return { spec };
  }
  return functionPolicy;
}

/** Kubernetes' label selector semantics: every matchLabels pair and every expression must hold. */
function selects(selector: V1LabelSelector, labels: Readonly<Record<string, string>>): boolean {
  const pairs = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const expressions = (selector.matchExpressions ?? []).every(({ key, operator, values = [] }) => {
    const value = labels[key];
    switch (operator) {
      case 'In':
        return value !== undefined && values.includes(value);
      case 'NotIn':
        return value === undefined || !values.includes(value);
      case 'Exists':
        return value !== undefined;
      case 'DoesNotExist':
        return value === undefined;
      default:
        throw new Error(`unknown operator ${operator}`);
    }
  });
  return pairs && expressions;
}

function podLabels(mode: (typeof RUNNER_MODES)[number], profile = 'default'): Record<string, string> {
  const job = buildRunnerJob({
    profile: profileOf(mode, { name: profile }),
    secretName: 'runner-42',
    namespace: 'github-runners',
    ttlSecondsAfterFinished: 300,
    owner: 'Octo-Org',
    repo: 'hello.world',
    jobId: 42,
    runId: 7,
    runAttempt: 1,
    deliveryId: 'd',
    jobLabels: ['self-hosted'],
    suspend: true,
  });
  return job.spec?.template.metadata?.labels ?? {};
}

/** The labels Knative Serving puts on the pods of a revision of the Service (besides the template's own). */
const functionPod = {
  'serving.knative.dev/service': 'kube-actions-runner',
  'serving.knative.dev/configuration': 'kube-actions-runner',
  'serving.knative.dev/revision': 'kube-actions-runner-00001',
  app: 'kube-actions-runner-00001',
};

describe('the runner NetworkPolicy', () => {
  it.each(RUNNER_MODES)('selects the pods the builder makes in %s mode, whatever the profile', (mode) => {
    expect(selects(runners.spec?.podSelector ?? {}, podLabels(mode))).toBe(true);
    expect(selects(runners.spec?.podSelector ?? {}, podLabels(mode, 'gpu-large'))).toBe(true);
  });

  it('selects something: a selector that matched no runner pod would protect nothing', () => {
    expect(selects(runners.spec?.podSelector ?? {}, {})).toBe(false);
    expect(selects(runners.spec?.podSelector ?? {}, { app: 'github-runner' })).toBe(false);
    expect(selects(runners.spec?.podSelector ?? {}, functionPod)).toBe(false);
  });

  it('denies all ingress and allows egress only to DNS and outside the cluster', () => {
    expect(runners.spec?.policyTypes).toEqual(['Ingress', 'Egress']);
    expect(runners.spec?.ingress).toBeUndefined();
    const [dns, internet, ...rest] = runners.spec?.egress ?? [];
    expect(rest).toEqual([]);
    expect(dns?.ports?.map((port) => `${port.protocol}/${port.port}`)).toEqual(['UDP/53', 'TCP/53']);
    expect(dns?.to?.every((peer) => peer.podSelector?.matchLabels?.['k8s-app'] === 'kube-dns')).toBe(true);
    expect(internet?.ports).toBeUndefined();
  });

  it('reaches public addresses but not cluster ranges or the cloud metadata endpoint', () => {
    const blocks = (runners.spec?.egress?.[1]?.to ?? []).map((peer) => peer.ipBlock);
    const allowed = (address: string) =>
      blocks.some((block) => {
        if (block === undefined) return false;
        const family = isIPv6(address) ? 'ipv6' : 'ipv4';
        const within = new BlockList();
        const [network, prefix] = block.cidr.split('/');
        if (isIPv6(network ?? '') !== (family === 'ipv6')) return false;
        within.addSubnet(network ?? '', Number(prefix), family);
        const excluded = new BlockList();
        for (const except of block.except ?? []) {
          const [exceptNetwork, exceptPrefix] = except.split('/');
          if (isIPv6(exceptNetwork ?? '') === (family === 'ipv6'))
            excluded.addSubnet(exceptNetwork ?? '', Number(exceptPrefix), family);
        }
        return within.check(address, family) && !excluded.check(address, family);
      });
    // github.com, a registry's CDN, GitHub's IPv6 range
    for (const address of ['140.82.112.3', '151.101.1.69', '2606:50c0:8000::153']) {
      expect(allowed(address), address).toBe(true);
    }
    // Cloud metadata (AWS/GCP/Azure, AWS over IPv6), kube-dns ClusterIP, pod and node ranges, loopback
    for (const address of [
      '169.254.169.254',
      'fd00:ec2::254',
      '10.96.0.10',
      '172.20.0.1',
      '192.168.49.2',
      '100.64.3.7',
      '127.0.0.1',
      '::1',
      'fe80::1',
    ]) {
      expect(allowed(address), address).toBe(false);
    }
  });
});

describe('the function NetworkPolicy', () => {
  it('selects the pods Knative makes for the Service, not the runners', () => {
    expect(selects(functionPolicy.spec?.podSelector ?? {}, functionPod)).toBe(true);
    for (const mode of RUNNER_MODES) {
      expect(selects(functionPolicy.spec?.podSelector ?? {}, podLabels(mode))).toBe(false);
    }
  });

  it('takes ingress from the Knative data path only, and leaves egress alone', () => {
    expect(functionPolicy.spec?.policyTypes).toEqual(['Ingress']);
    const namespaces = (functionPolicy.spec?.ingress ?? []).flatMap((rule) =>
      (rule.from ?? []).map((peer) => {
        // Every peer is a whole namespace, named: never a bare podSelector (which would mean this namespace).
        expect(peer.podSelector).toBeUndefined();
        expect(peer.ipBlock).toBeUndefined();
        const selector = peer.namespaceSelector ?? {};
        return [
          ...Object.entries(selector.matchLabels ?? {}).map(([key, value]) => `${key}=${value}`),
          ...(selector.matchExpressions ?? []).flatMap(({ key, values }) =>
            (values ?? []).map((value) => `${key}=${value}`),
          ),
        ];
      }),
    );
    expect(namespaces).toEqual([
      ['kubernetes.io/metadata.name=knative-serving', 'kubernetes.io/metadata.name=kourier-system'],
    ]);
  });
});

describe('the function NetworkPolicy of the plain Deployment (deployment/)', () => {
  const overlay = deploymentFunctionPolicy();
  const deployment = read('deployment/deployment.yaml') as V1Deployment;
  const service = read('deployment/service.yaml') as V1Service;
  const deploymentPod = deployment.spec?.template.metadata?.labels ?? {};

  it("selects the Deployment's pods, the ones its Service sends to", () => {
    expect(selects(overlay.spec?.podSelector ?? {}, deploymentPod)).toBe(true);
    expect(selects({ matchLabels: service.spec?.selector ?? {} }, deploymentPod)).toBe(true);
  });

  it('selects neither the runners nor the reconcile pods', () => {
    for (const mode of RUNNER_MODES) {
      expect(selects(overlay.spec?.podSelector ?? {}, podLabels(mode))).toBe(false);
    }
    expect(
      selects(overlay.spec?.podSelector ?? {}, { 'app.kubernetes.io/name': 'kube-actions-runner-reconcile' }),
    ).toBe(false);
  });

  it('takes ingress from the tunnel or ingress namespaces and Prometheus, on the function port only', () => {
    expect(overlay.spec?.policyTypes).toEqual(['Ingress']);
    const [rule, ...rest] = overlay.spec?.ingress ?? [];
    expect(rest).toEqual([]);
    const namespaces = (rule?.from ?? []).flatMap((peer) => {
      // Whole namespaces, named: never a bare podSelector or an address range.
      expect(peer.podSelector).toBeUndefined();
      expect(peer.ipBlock).toBeUndefined();
      const selector = peer.namespaceSelector ?? {};
      return [
        ...Object.values(selector.matchLabels ?? {}),
        ...(selector.matchExpressions ?? []).flatMap(({ key, operator, values }) => {
          expect(`${key} ${operator}`).toBe('kubernetes.io/metadata.name In');
          return values ?? [];
        }),
      ];
    });
    expect(namespaces).toEqual(['ingress-nginx', 'cloudflared', 'monitoring']);
    // Knative's data path is not here: nothing of Knative runs in front of these pods.
    expect(namespaces).not.toContain('knative-serving');
    const container = deployment.spec?.template.spec?.containers[0];
    expect(rule?.ports).toEqual([{ protocol: 'TCP', port: container?.ports?.[0]?.name }]);
    expect(container?.ports).toHaveLength(1);
  });
});
