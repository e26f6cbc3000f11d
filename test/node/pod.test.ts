/**
 * Pods started for real: the scheduler binds them to the real node, its kubelet has containerd and runc start
 * them in a network namespace of their own on the node's bridge, and their status is the kubelet's (kwok does not
 * play this node). A pod's command runs to Succeeded; a Job's container that exits 7 fails the Job, and the exit
 * code is read from the pod's status, as reconcile reads a runner's.
 */
import type { V1Job, V1Pod } from '@kubernetes/client-node';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureNamespace, kubectl, kubectlJson, waitFor } from '../e2e/support/cluster.js';

const NAMESPACE = 'node-pods';
/** The bridge's pod range (scripts/node/node.sh). */
const POD_IP = /^198\.18\.1\.\d{1,3}$/;

beforeAll(() => ensureNamespace(NAMESPACE));
afterAll(() => {
  kubectl(['delete', 'namespace', NAMESPACE, '--wait=false']);
});

/** A pod spec of one busybox container running `script`, bound by the scheduler to the real node. */
function busyboxPodSpec(script: string): NonNullable<V1Pod['spec']> {
  return {
    restartPolicy: 'Never',
    nodeSelector: { 'kubernetes.io/hostname': inject('node') },
    containers: [
      {
        name: 'main',
        image: inject('busyboxImage'),
        // Imported into the node's containerd; there is no registry to pull it from.
        imagePullPolicy: 'Never',
        command: ['sh', '-c', script],
      },
    ],
  };
}

function getPod(name: string): V1Pod {
  return kubectlJson<V1Pod>(['get', 'pod', name, '-n', NAMESPACE]);
}

describe('a pod on the real node', () => {
  it('runs its command to Succeeded, in its own network namespace with an address from the bridge', async () => {
    const name = 'hello';
    const pod: V1Pod = {
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: { name, namespace: NAMESPACE },
      spec: busyboxPodSpec('echo "hostname=$(hostname) ip=$(ip -4 -o addr show eth0 | awk \'{print $4}\')"'),
    };
    const created = Date.now();
    kubectl(['create', '-f', '-'], JSON.stringify(pod));
    const done = await waitFor(`pod ${name} to finish`, () => {
      const current = getPod(name);
      return ['Succeeded', 'Failed'].includes(current.status?.phase ?? '') ? current : undefined;
    });
    console.info(`pod ${name}: created to Succeeded in ${Date.now() - created} ms`);

    expect(done.status?.phase).toBe('Succeeded');
    expect(done.spec?.nodeName).toBe(inject('node'));
    expect(done.status?.hostIP).toBe('198.18.0.1');
    const podIP = done.status?.podIP ?? '';
    expect(podIP).toMatch(POD_IP);
    expect(done.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 0,
      reason: 'Completed',
    });
    // Printed from inside: the pod's own hostname, and on its eth0 the address the kubelet reported.
    expect(kubectl(['logs', name, '-n', NAMESPACE]).trim()).toBe(`hostname=${name} ip=${podIP}/16`);
  });
});

describe('a Job on the real node', () => {
  it('fails when its container exits 7, with exit code 7 in the pod status', async () => {
    const name = 'exits-seven';
    const job: V1Job = {
      apiVersion: 'batch/v1',
      kind: 'Job',
      metadata: { name, namespace: NAMESPACE },
      spec: { backoffLimit: 0, template: { spec: busyboxPodSpec('echo exiting; exit 7') } },
    };
    kubectl(['create', '-f', '-'], JSON.stringify(job));
    const failed = await waitFor(`job ${name} to fail`, () => {
      const conditions = kubectlJson<V1Job>(['get', 'job', name, '-n', NAMESPACE]).status?.conditions ?? [];
      return conditions.find((c) => c.type === 'Failed' && c.status === 'True');
    });
    expect(failed.reason).toBe('BackoffLimitExceeded');

    const pods = kubectlJson<{ items: V1Pod[] }>([
      'get',
      'pods',
      '-n',
      NAMESPACE,
      '-l',
      `job-name=${name}`,
    ]).items;
    expect(pods).toHaveLength(1);
    const pod = pods[0] as V1Pod;
    expect(pod.spec?.nodeName).toBe(inject('node'));
    expect(pod.status?.phase).toBe('Failed');
    expect(pod.status?.podIP ?? '').toMatch(POD_IP);
    expect(pod.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({
      exitCode: 7,
      reason: 'Error',
    });
  });
});
