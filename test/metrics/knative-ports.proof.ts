/**
 * The shipped monitors keep to Knative's port contract, read from Knative Serving's own source (the module
 * version the end-to-end suite validates against):
 * - every port of the Services Knative makes for a revision (public and private) targets queue-proxy
 *   (`pkg/reconciler/serverlessservice/resources/services.go`, `targetPort`: BackendHTTPPort 8012 or
 *   BackendHTTP2Port 8013, and BackendHTTPSPort), so a ServiceMonitor on them sends every scrape through the
 *   serving path: the autoscaler counts it as a request and the revision never scales to zero;
 * - queue-proxy's container ports (`pkg/reconciler/revision/resources/queue.go`) are never scraped;
 * - the user container's port, which Knative names `user-port` (`pkg/apis/serving/v1/revision_helpers.go`,
 *   set in `pkg/reconciler/revision/resources/deploy.go`), is outside queue-proxy: the only port a monitor of the
 *   function's pods may scrape.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAllYaml } from '@kubernetes/client-node';
import { beforeAll, describe, expect, it } from 'vitest';

const knative = fileURLToPath(new URL('../../knative/', import.meta.url));
const versions = readFileSync(new URL('../../scripts/control-plane/versions.env', import.meta.url), 'utf8');
const servingVersion = /^KNATIVE_SERVING_VERSION=(\S+)/m.exec(versions)?.[1] as string;

interface Contract {
  /** queue-proxy's ports, by number and by container-port name. */
  readonly queueProxyPorts: Set<number>;
  readonly queueProxyPortNames: Set<string>;
  readonly userPortName: string;
}

type Manifest = {
  kind?: string;
  metadata?: { name?: string };
  spec?: Record<string, unknown>;
};

function knativeServingSource(): string {
  const work = mkdtempSync(join(tmpdir(), 'kar-knative-'));
  const json = execFileSync('go', ['mod', 'download', '-json', `knative.dev/serving@${servingVersion}`], {
    cwd: work,
    encoding: 'utf8',
    env: { ...process.env, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
  });
  return (JSON.parse(json) as { Dir: string }).Dir;
}

function readContract(dir: string): Contract {
  const read = (path: string) => readFileSync(join(dir, path), 'utf8');
  const constant = (text: string, name: string) => {
    const match = new RegExp(`\\b${name}\\s*=\\s*(\\d+|"[^"]+")`).exec(text);
    if (match === null) throw new Error(`${name} not found in Knative's source`);
    return (match[1] as string).replace(/"/g, '');
  };
  const ports = read('pkg/networking/constants.go');
  const queue = read('pkg/reconciler/revision/resources/queue.go');
  const services = read('pkg/reconciler/serverlessservice/resources/services.go');
  // Every targetPort of the revision's Services is one of queue-proxy's ports (not the user container's).
  const targets = [...services.matchAll(/TargetPort:\s*([^,\n]+)/g)].map((m) => (m[1] as string).trim());
  expect(targets.length).toBeGreaterThanOrEqual(3);
  // queue-proxy's serving ports (targetPort(sks): 8012 or 8013), its HTTPS port, and its two metrics ports.
  const queueProxyTarget =
    /^targetPort\(sks\)$|^intstr\.FromInt\(networking\.Backend\w+Port\)$|^intstr\.FromString\(servingv1\.\w+QueueMetricsPortName\)$/;
  for (const target of targets) expect(target).toMatch(queueProxyTarget);
  const queueProxyPorts = new Set(
    [
      'BackendHTTPPort',
      'BackendHTTP2Port',
      'BackendHTTPSPort',
      'QueueAdminPort',
      'AutoscalingQueueMetricsPort',
      'UserQueueMetricsPort',
    ].map((name) => Number(constant(ports, name))),
  );
  const queueProxyPortNames = new Set(
    [...queue.matchAll(/PortName\s*=\s*"([^"]+)"/g)].map((m) => m[1] as string),
  );
  return {
    queueProxyPorts,
    queueProxyPortNames,
    userPortName: constant(read('pkg/apis/serving/v1/revision_helpers.go'), 'UserPortName'),
  };
}

const knativeLabel = (key: string) => key.startsWith('serving.knative.dev/') || key.includes('knative.dev/');

/** What is wrong with a monitor under the contract; empty when it keeps to it. */
function violations(monitor: Manifest, contract: Contract): string[] {
  const spec = (monitor.spec ?? {}) as {
    selector?: { matchLabels?: Record<string, string>; matchExpressions?: { key: string }[] };
    endpoints?: { port?: string; targetPort?: string | number }[];
    podMetricsEndpoints?: { port?: string; portNumber?: number; targetPort?: string | number }[];
  };
  const keys = [
    ...Object.keys(spec.selector?.matchLabels ?? {}),
    ...(spec.selector?.matchExpressions ?? []).map((e) => e.key),
  ];
  const selectsKnative = keys.some(knativeLabel);
  const name = `${monitor.kind}/${monitor.metadata?.name}`;
  if (monitor.kind === 'ServiceMonitor' && selectsKnative) {
    return [
      `${name} scrapes a Service Knative made for the revision: every port of it goes through queue-proxy`,
    ];
  }
  const problems: string[] = [];
  for (const endpoint of [...(spec.endpoints ?? []), ...(spec.podMetricsEndpoints ?? [])]) {
    const port = (endpoint as { port?: string }).port;
    const number = (endpoint as { portNumber?: number }).portNumber ?? endpoint.targetPort;
    if (port !== undefined && contract.queueProxyPortNames.has(port))
      problems.push(`${name} scrapes queue-proxy's ${port}`);
    if (typeof number === 'number' && contract.queueProxyPorts.has(number)) {
      problems.push(`${name} scrapes queue-proxy's port ${number}`);
    }
    if (selectsKnative && port !== contract.userPortName) {
      problems.push(
        `${name} scrapes the function's pods on ${port ?? number}, not the user container's ${contract.userPortName}`,
      );
    }
  }
  return problems;
}

function shippedMonitors(dir = knative): Manifest[] {
  return readdirSync(dir).flatMap((entry) => {
    const path = join(dir, entry);
    if (statSync(path).isDirectory()) return shippedMonitors(path);
    if (!entry.endsWith('.yaml')) return [];
    return (loadAllYaml(readFileSync(path, 'utf8')) as Manifest[]).filter(
      (doc) => doc?.kind === 'ServiceMonitor' || doc?.kind === 'PodMonitor',
    );
  });
}

/** The ServiceMonitor shipped before (issue #20): the private Service's `http` port, i.e. queue-proxy's 8012. */
const FORMER_SERVICE_MONITOR: Manifest = {
  kind: 'ServiceMonitor',
  metadata: { name: 'kube-actions-runner' },
  spec: {
    selector: {
      matchLabels: {
        'serving.knative.dev/service': 'kube-actions-runner',
        'networking.internal.knative.dev/serviceType': 'Private',
      },
    },
    endpoints: [{ port: 'http', path: '/metrics', interval: '30s' }],
  },
};

const podMonitor = (endpoint: Record<string, unknown>): Manifest => ({
  kind: 'PodMonitor',
  metadata: { name: 'function' },
  spec: {
    selector: { matchLabels: { 'serving.knative.dev/service': 'kube-actions-runner' } },
    podMetricsEndpoints: [{ path: '/metrics', ...endpoint }],
  },
});

describe(`the shipped monitors and Knative Serving ${servingVersion}'s port contract`, () => {
  let contract: Contract;
  beforeAll(() => {
    contract = readContract(knativeServingSource());
  }, 300_000);

  it("reads the contract from Knative's source", () => {
    expect(contract.queueProxyPorts).toEqual(new Set([8012, 8013, 8112, 8022, 9090, 9091]));
    expect(contract.queueProxyPortNames.has('queue-port')).toBe(true);
    expect(contract.userPortName).toBe('user-port');
  });

  it('no shipped monitor goes through queue-proxy, and none scrapes the function in Knative mode at all', () => {
    const monitors = shippedMonitors();
    expect(monitors.map((m) => `${m.kind}/${m.metadata?.name}`)).toEqual([
      'PodMonitor/kube-actions-runner-statsd',
    ]);
    for (const monitor of monitors) expect(violations(monitor, contract)).toEqual([]);
  });

  it('the former ServiceMonitor on the private Service is refused (the check can fail)', () => {
    expect(violations(FORMER_SERVICE_MONITOR, contract)).toHaveLength(1);
  });

  it.each([
    [{ port: 'queue-port' }, 2],
    [{ portNumber: 8012 }, 2],
    [{ targetPort: 8013 }, 2],
    [{ port: 'http' }, 1],
    [{ port: 'user-port' }, 0],
  ])('a PodMonitor of the function on %j: %i violations', (endpoint, count) => {
    expect(violations(podMonitor(endpoint), contract)).toHaveLength(count);
  });
});
