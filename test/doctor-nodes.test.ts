/** doctor's node check: the machines the cluster offers against those LABEL_MATCHERS accepts (issue #17). */
import { afterEach, describe, expect, it } from 'vitest';
import { loadConfig } from '../shared/config/load-config.js';
import { runChecks } from '../shared/doctor/check.js';
import { nodeChecks } from '../shared/doctor/node-checks.js';
import { createKubeApi } from '../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../shared/kubernetes/kubeconfig-connection.js';
import { type KubernetesStandIn, startKubernetesStandIn } from '../stand-ins/kubernetes-stand-in.js';
import { tempDir } from './support/temp-dir.js';

let kubernetes: KubernetesStandIn;
afterEach(async () => kubernetes?.close());

const node = (name: string, arch: string) => ({
  name,
  labels: { 'kubernetes.io/os': 'linux', 'kubernetes.io/arch': arch },
});

async function check(labelMatchers: string) {
  const config = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't', LABEL_MATCHERS: labelMatchers });
  const api = createKubeApi(kubeconfigConnection([kubernetes.writeKubeconfig(tempDir('doctor-nodes'))]));
  const [result] = await runChecks(nodeChecks({ config, api }), 5000);
  return result;
}

describe("doctor: nodes for the jobs' machines", () => {
  it('lists what the cluster has, and passes when every machine LABEL_MATCHERS names has a node', async () => {
    kubernetes = await startKubernetesStandIn();
    kubernetes.setNodes([node('a', 'amd64'), node('b', 'amd64'), node('c', 'arm64')]);
    expect(await check('linux+x64;arm64')).toMatchObject({
      status: 'pass',
      seen: 'linux/amd64 (2), linux/arm64 (1); every machine LABEL_MATCHERS names has a node',
    });
  });

  it('warns about a machine LABEL_MATCHERS accepts that no node offers: such jobs wait', async () => {
    kubernetes = await startKubernetesStandIn();
    kubernetes.setNodes([node('a', 'amd64')]);
    const result = await check('linux+x64;arm64');
    expect(result?.status).toBe('warn');
    expect(result?.seen).toContain('none offers kubernetes.io/os=linux, kubernetes.io/arch=arm64');
  });

  it('without the optional ClusterRole, warns only when LABEL_MATCHERS names a machine', async () => {
    kubernetes = await startKubernetesStandIn(); // listing nodes is forbidden unless nodes are set
    expect((await check('self-hosted'))?.status).toBe('pass');
    const result = await check('self-hosted+arm64');
    expect(result?.status).toBe('warn');
    expect(result?.fix).toContain('knative/node-reader.yaml');
  });
});
