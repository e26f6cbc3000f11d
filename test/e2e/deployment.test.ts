/**
 * The plain Deployment (deployment/), run the way its pod would run: the built function with the Deployment's own
 * settings (its Secret references resolved from a Secret laid out as the README creates it), as its
 * ServiceAccount, through the in-cluster connection, with the service-account files where the kubelet puts them
 * (/var/run/secrets/kubernetes.io/serviceaccount: token, ca.crt, namespace). The process gets its own mount
 * namespace with a private /run, so nothing is written to the machine's. Against the real control plane.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { V1Container, V1Deployment } from '@kubernetes/client-node';
import { loadAll } from 'js-yaml';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OUTFILE } from '../../scripts/dist-paths.js';
import { type GitHubStandIn, startGitHubStandIn } from '../../stand-ins/github-stand-in.js';
import { queuedPayload, signedDelivery } from '../../stand-ins/payloads.js';
import { ensureNamespace, kubectl, kubectlStatus, waitFor } from './support/cluster.js';

const overlay = fileURLToPath(new URL('../../deployment', import.meta.url));
/** The Secret as the README's install steps make it (values chosen here). */
const SECRET = {
  'webhook-secret': 'e2e-deployment-webhook-secret',
  'github-token': 'github_pat_e2e_deployment',
  'reconcile-token': 'e2e-deployment-reconcile-token',
} as Record<string, string>;
const SERVICE_ACCOUNT_DIR = '/var/run/secrets/kubernetes.io/serviceaccount';

type Manifest = { kind: string; metadata: { name: string; namespace: string } };
let manifests: Manifest[];
let deployment: V1Deployment;
let github: GitHubStandIn;
let child: ChildProcess | undefined;
let output = '';
let url = '';

/** The container's environment as the kubelet makes it from the Deployment and the Secret. */
function containerEnv(container: V1Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const entry of container.env ?? []) {
    const ref = entry.valueFrom?.secretKeyRef;
    if (entry.value !== undefined) env[entry.name] = entry.value;
    else if (ref && ref.name === 'kube-actions-runner-secrets' && SECRET[ref.key] !== undefined)
      env[entry.name] = SECRET[ref.key] as string;
    else if (!ref?.optional)
      throw new Error(`cannot resolve ${entry.name}: ${JSON.stringify(entry.valueFrom)}`);
  }
  return env;
}

/** The runners' namespace: the container's NAMESPACE, apart from the function's own (knative/rbac.yaml). */
function runnerNamespace(): string {
  const container = deployment.spec?.template.spec?.containers[0] as V1Container;
  return (
    container.env?.find((env) => env.name === 'NAMESPACE')?.value ?? deployment.metadata?.namespace ?? ''
  );
}

beforeAll(async () => {
  manifests = loadAll(kubectl(['kustomize', overlay])) as Manifest[];
  deployment = manifests.find((m) => m.kind === 'Deployment') as unknown as V1Deployment;
  const namespace = deployment.metadata?.namespace ?? '';
  const account = deployment.spec?.template.spec?.serviceAccountName ?? '';
  ensureNamespace(namespace);
  // The overlay's identity and rights, for real (the rest of it is dry-run in manifests.test.ts).
  for (const kind of ['Namespace', 'ServiceAccount', 'Role', 'RoleBinding']) {
    kubectl(['apply', '-f', '-'], JSON.stringify(manifests.find((m) => m.kind === kind)));
  }

  // What the kubelet mounts into the pod: a token of its ServiceAccount, the cluster CA, the pod's namespace.
  const files = mkdtempSync(join(tmpdir(), 'kar-e2e-pod-'));
  writeFileSync(join(files, 'token'), kubectl(['create', 'token', account, '-n', namespace]).trim());
  const admin = JSON.parse(kubectl(['config', 'view', '--raw', '--minify', '--flatten', '-o', 'json'])) as {
    clusters: { cluster: { server: string; 'certificate-authority-data': string } }[];
  };
  const cluster = admin.clusters[0]?.cluster;
  if (!cluster) throw new Error('the admin kubeconfig has no cluster');
  writeFileSync(join(files, 'ca.crt'), Buffer.from(cluster['certificate-authority-data'], 'base64'));
  writeFileSync(join(files, 'namespace'), namespace);
  const server = new URL(cluster.server);

  github = await startGitHubStandIn({ token: SECRET['github-token'] as string });
  const container = deployment.spec?.template.spec?.containers[0] as V1Container;
  const mountFiles = [
    'mount -t tmpfs tmpfs /run',
    `mkdir -p ${SERVICE_ACCOUNT_DIR}`,
    `cp "$0"/token "$0"/ca.crt "$0"/namespace ${SERVICE_ACCOUNT_DIR}/`,
    'exec "$@"',
  ].join(' && ');
  child = spawn(
    'unshare',
    ['--mount', '--propagation', 'private', '--', 'sh', '-c', mountFiles, files, process.execPath, OUTFILE],
    {
      env: {
        PATH: process.env.PATH ?? '',
        // No kubeconfig anywhere: the function must find its pod's service account, as in the cluster.
        HOME: mkdtempSync(join(tmpdir(), 'kar-e2e-home-')),
        KUBERNETES_SERVICE_HOST: server.hostname,
        KUBERNETES_SERVICE_PORT: server.port,
        ...containerEnv(container),
        // Only these differ from the pod: the GitHub stand-in, and a loopback port the system chooses.
        GITHUB_API_URL: github.url,
        PORT: '0',
        HOST: '127.0.0.1',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  child.stderr?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
  });
  const port = await waitFor(
    'the function to listen',
    () => {
      if (child?.exitCode !== null) throw new Error(`the function exited: ${output}`);
      const line = output.split('\n').find((text) => text.includes('"msg":"listening"'));
      return line === undefined ? undefined : (JSON.parse(line) as { port: number }).port;
    },
    30_000,
  );
  url = `http://127.0.0.1:${port}`;
}, 120_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    await exited;
  }
  await github?.close();
});

describe('the function as deployment/ runs it, on the real control plane', () => {
  it("connects in-cluster as the Deployment's ServiceAccount and works in the runners' namespace", async () => {
    const listening = output
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as { msg: string; kubeconfig?: string })
      .find((line) => line.msg === 'listening');
    expect(listening?.kubeconfig).toBe('in-cluster');
    const ready = (await (await fetch(`${url}/ready`)).json()) as { namespace: string; mode: string };
    expect(ready.namespace).toBe(runnerNamespace());
    expect(ready.mode).toBe('dind-rootless');
  });

  it("answers a signed queued delivery with a runner Job in the runners' namespace", async () => {
    const payload = queuedPayload({ jobId: 8_100_000_001 });
    github.addJob(payload.repository.full_name, payload.workflow_job);
    const { headers, body } = await signedDelivery(payload, SECRET['webhook-secret'] as string);
    const response = await fetch(`${url}/webhook`, { method: 'POST', headers, body });
    expect(await response.json()).toMatchObject({ outcome: 'created', job: 'runner-8100000001' });
    const namespace = runnerNamespace();
    expect(kubectlStatus(['get', 'job', 'runner-8100000001', '-n', namespace]).status).toBe(0);
    expect(kubectlStatus(['get', 'secret', 'runner-8100000001', '-n', namespace]).status).toBe(0);
    kubectl(['delete', 'job', 'runner-8100000001', '-n', namespace, '--wait=true']);
  });

  it("serves POST /reconcile with the Secret's reconcile token, as the CronJob calls it", async () => {
    const refused = await fetch(`${url}/reconcile`, { method: 'POST' });
    expect(refused.status).toBe(401);
    const response = await fetch(`${url}/reconcile`, {
      method: 'POST',
      headers: { authorization: `Bearer ${SECRET['reconcile-token']}` },
    });
    expect(response.status).toBe(200);
  });
});
