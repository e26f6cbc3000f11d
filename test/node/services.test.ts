/**
 * Services from pods on the real node: kube-proxy's iptables rules take a ClusterIP to a ready pod (the kubelet
 * probes it for real), and the kubernetes Service takes a pod, with its ServiceAccount token, to the API server
 * (which listens on 127.0.0.1 only; scripts/node/node.sh forwards it).
 */
import type { V1Container, V1Pod, V1Service } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureNamespace, kubectl, kubectlJson, waitFor } from '../e2e/support/cluster.js';

const NAMESPACE = 'node-services';

beforeAll(() => ensureNamespace(NAMESPACE));
afterAll(() => {
  kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']);
});

/**
 * A busybox pod on the real node running `script` (Debian's static busybox 1.35 crashes on `wget -T`, so scripts
 * bound a wait with `timeout`); `container` adds to its one container.
 */
function busyboxPod(
  name: string,
  script: string,
  restartPolicy: 'Never' | 'Always',
  container: Partial<V1Container> = {},
): V1Pod {
  return {
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name, namespace: NAMESPACE, labels: { app: name } },
    spec: {
      restartPolicy,
      nodeSelector: { 'kubernetes.io/hostname': inject('node') },
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: 'main',
          image: inject('busyboxImage'),
          imagePullPolicy: 'Never',
          command: ['sh', '-c', script],
          ...container,
        },
      ],
    },
  };
}

/** Runs a pod to its end and returns its log; fails if it did not succeed. */
async function runToEnd(pod: V1Pod): Promise<string> {
  const name = pod.metadata?.name as string;
  kubectl(['create', '-f', '-'], JSON.stringify(pod));
  const phase = await waitFor(`pod ${name} to finish`, () => {
    const current = kubectlJson<V1Pod>(['get', 'pod', name, '-n', NAMESPACE]).status?.phase ?? '';
    return ['Succeeded', 'Failed'].includes(current) ? current : undefined;
  });
  const log = kubectl(['logs', name, '-n', NAMESPACE]);
  expect(phase, log).toBe('Succeeded');
  return log;
}

describe('Services on the real node', () => {
  it('take a ClusterIP to a pod the kubelet found ready', async () => {
    const server = busyboxPod(
      'web',
      'mkdir /www && echo "served by $(hostname)" > /www/index.html && exec httpd -f -p 8080 -h /www',
      'Always',
      { ports: [{ containerPort: 8080 }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } },
    );
    kubectl(['create', '-f', '-'], JSON.stringify(server));
    const service: V1Service = {
      apiVersion: 'v1',
      kind: 'Service',
      metadata: { name: 'web', namespace: NAMESPACE },
      spec: { selector: { app: 'web' }, ports: [{ port: 80, targetPort: 8080 }] },
    };
    kubectl(['create', '-f', '-'], JSON.stringify(service));
    const clusterIP = kubectlJson<V1Service>(['get', 'service', 'web', '-n', NAMESPACE]).spec?.clusterIP;
    expect(clusterIP).toMatch(/^10\.0\.0\.\d+$/);
    await waitFor('the web pod to be ready', () => {
      const conditions = kubectlJson<V1Pod>(['get', 'pod', 'web', '-n', NAMESPACE]).status?.conditions ?? [];
      return conditions.find((c) => c.type === 'Ready' && c.status === 'True');
    });

    const log = await runToEnd(busyboxPod('client', `timeout 10 wget -q -O- http://${clusterIP}/`, 'Never'));
    expect(log.trim()).toBe('served by web');
  });

  it('take a pod with its ServiceAccount token to the API server as the kubernetes Service', async () => {
    // What an in-cluster client does: KUBERNETES_SERVICE_HOST and _PORT, the mounted token. Busybox's wget does
    // not verify certificates; the API server's names the Service's address (scripts/control-plane/cluster.sh).
    const script = [
      'token=$(cat /var/run/secrets/kubernetes.io/serviceaccount/token)',
      'timeout 10 wget -q -O- --header "Authorization: Bearer $token" \\',
      '  "https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT/api/v1/namespaces/$(cat /var/run/secrets/kubernetes.io/serviceaccount/namespace)/serviceaccounts/default" 2>/dev/null ||',
      '  echo "denied or unreachable"',
    ].join('\n');
    kubectl([
      'create',
      'rolebinding',
      'read-accounts',
      '-n',
      NAMESPACE,
      '--clusterrole=view',
      '--serviceaccount',
      `${NAMESPACE}:default`,
    ]);
    const log = await runToEnd(busyboxPod('in-cluster', script, 'Never'));
    // The API server answered as the pod's own ServiceAccount, which the RoleBinding lets read it.
    expect(JSON.parse(log)).toMatchObject({
      kind: 'ServiceAccount',
      metadata: { name: 'default', namespace: NAMESPACE },
    });
  });
});
