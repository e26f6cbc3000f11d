/**
 * What the deploy files promise each other, read as the tools read them: the image the release workflow pushes
 * is the one every manifest runs; the plain Deployment runs the Knative Service's container; the OpenFaaS stack
 * runs as its own ServiceAccount with the same rights, and its reconcile schedule reaches it; the kn recipe in
 * the README passes the same settings; and every container has its limits. The API server and Knative's own
 * validation judge the same files in the end-to-end suite.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type {
  V1Container,
  V1CronJob,
  V1Deployment,
  V1PodSpec,
  V1Role,
  V1RoleBinding,
} from '@kubernetes/client-node';
import { load, loadAll } from 'js-yaml';
import { describe, expect, it } from 'vitest';
import { SECRET_SETTINGS } from '../../shared/config/read-secret-files.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const read = (path: string) => readFileSync(`${root}${path}`, 'utf8');
type Manifest = { kind: string; metadata: { name: string; namespace?: string } };
const docs = <T = Manifest>(path: string) => loadAll(read(path)) as T[];
const one = <T>(path: string, kind: string) => {
  const found = docs<Manifest>(path).filter((doc) => doc.kind === kind);
  expect(found, `${path}: one ${kind}`).toHaveLength(1);
  return found[0] as unknown as T;
};

type KnativeService = { spec: { template: { spec: V1PodSpec } } };
type Stack = {
  functions: Record<
    string,
    {
      image: string;
      readonly_root_filesystem?: boolean;
      environment: Record<string, string>;
      secrets: string[];
      labels: Record<string, string>;
      annotations: Record<string, string>;
    }
  >;
};
type Workflow = {
  on: { push: { tags: string[] } };
  jobs: Record<string, { steps: { uses?: string; run?: string; with?: Record<string, unknown> }[] }>;
};

const pkg = JSON.parse(read('package.json')) as { version: string; repository: string };
const knativePod = one<KnativeService>('knative/service.yaml', 'Service').spec.template.spec;
const knativeContainer = knativePod.containers[0] as V1Container;
const deployment = one<V1Deployment>('deployment/deployment.yaml', 'Deployment');
const deploymentPod = deployment.spec?.template.spec as V1PodSpec;
const deploymentContainer = deploymentPod.containers[0] as V1Container;
const stack = load(read('stack.yml')) as Stack;
const [functionName = '', stackFunction] = Object.entries(stack.functions)[0] ?? [];
const release = load(read('.github/workflows/release.yml')) as Workflow;
const releaseSteps = Object.values(release.jobs).flatMap((job) => job.steps);
const step = (action: string) => releaseSteps.find((s) => s.uses?.startsWith(`${action}@`));

describe('the image', () => {
  const image = `ghcr.io/${pkg.repository.replace(/^github:/, '')}:${pkg.version}`;

  it('is the one the release workflow pushes, pinned by the version tag, in every manifest', () => {
    expect(knativeContainer.image).toBe(image);
    expect(deploymentContainer.image).toBe(image);
    expect(stackFunction?.image).toBe(image);
    // A tag v<version> runs the workflow, which refuses a tag other than package.json's version...
    expect(release.on.push.tags).toEqual(['v*.*.*']);
    expect(JSON.stringify(releaseSteps)).toContain('if [ \\"$GITHUB_REF_NAME\\" != \\"v$version\\" ]');
    // ...and pushes ghcr.io/<this repository>:<version>.
    const meta = step('docker/metadata-action')?.with;
    // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a template
    expect(meta?.images).toBe('ghcr.io/${{ github.repository }}');
    expect(String(meta?.tags).split('\n')).toContain('type=semver,pattern={{version}}');
  });

  it('is built for amd64 and arm64 and pushed with an SBOM and provenance', () => {
    const build = step('docker/build-push-action')?.with;
    expect(build).toMatchObject({
      platforms: 'linux/amd64,linux/arm64',
      push: true,
      // biome-ignore lint/suspicious/noTemplateCurlyInString: a GitHub Actions expression, not a template
      tags: '${{ steps.meta.outputs.tags }}',
      sbom: true,
      provenance: 'mode=max',
    });
    expect(step('docker/login-action')?.with?.registry).toBe('ghcr.io');
    expect(step('docker/setup-qemu-action')).toBeDefined();
  });
});

describe('the function container', () => {
  it('has a read-only root filesystem, wherever it runs', () => {
    expect(knativeContainer.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(deploymentContainer.securityContext?.readOnlyRootFilesystem).toBe(true);
    expect(stackFunction?.readonly_root_filesystem).toBe(true);
  });

  it('is the same in the plain Deployment as in the Knative Service', () => {
    const { name, ports, readinessProbe, livenessProbe, ...rest } = deploymentContainer;
    const {
      ports: knativePorts,
      readinessProbe: knReady,
      livenessProbe: knLive,
      ...knativeRest
    } = knativeContainer;
    expect(rest).toEqual(knativeRest);
    expect(ports?.[0]?.containerPort).toBe(knativePorts?.[0]?.containerPort);
    expect(readinessProbe?.httpGet?.path).toBe(knReady?.httpGet?.path);
    expect(livenessProbe?.httpGet?.path).toBe(knLive?.httpGet?.path);
    expect(deploymentPod.serviceAccountName).toBe(knativePod.serviceAccountName);
    expect(deployment.spec?.replicas).toBeGreaterThanOrEqual(1);
  });

  it("makes its runners in their own namespace, the Role's, apart from its own and its Secret's", () => {
    const role = one<V1Role>('knative/rbac.yaml', 'Role');
    for (const container of [knativeContainer, deploymentContainer]) {
      const namespace = container.env?.find((env) => env.name === 'NAMESPACE')?.value;
      expect(namespace).toBe(role.metadata?.namespace);
      expect(namespace).not.toBe(deployment.metadata?.namespace);
    }
  });
});

describe.each(['knative/reconcile-cronjob.yaml', 'openfaas/reconcile-cronjob.yaml'])('%s', (path) => {
  const cronJob = one<V1CronJob>(path, 'CronJob');

  it('skips a run it cannot start before the next one is due', () => {
    const schedule = /^(?:\*\/(\d+)|\*) \* \* \* \*$/.exec(cronJob.spec?.schedule ?? '');
    expect(schedule).not.toBeNull();
    const every = Number(schedule?.[1] ?? 1);
    expect(cronJob.spec?.startingDeadlineSeconds).toBeGreaterThan(0);
    expect(cronJob.spec?.startingDeadlineSeconds).toBeLessThan(every * 60);
  });

  it.each([
    ['05', 'all'],
    ['07', 'records'],
  ])('at minute %s runs the %s pass, calling again while the answer says truncated', (minute, scope) => {
    // The container's own script, run by sh with curl and date stood in: it must parse, pick the scope by the
    // minute, and stop at the first answer that is not truncated.
    const script = cronJob.spec?.jobTemplate.spec?.template.spec?.containers[0]?.command?.[2] ?? '';
    const bin = mkdtempSync(join(tmpdir(), 'kar-cron-'));
    try {
      const calls = join(bin, 'calls');
      writeFileSync(join(bin, 'date'), `#!/bin/sh\necho ${minute}\n`, { mode: 0o755 });
      writeFileSync(
        join(bin, 'curl'),
        `#!/bin/sh\necho "$@" >> ${calls}\nn=$(wc -l < ${calls})\n` +
          `if [ "$n" -lt 3 ]; then echo '{"truncated":true}'; else echo '{"truncated":false}'; fi\n`,
        { mode: 0o755 },
      );
      execFileSync('sh', ['-c', script], {
        env: { PATH: `${bin}:${process.env.PATH}`, RECONCILE_TOKEN: 't0ken' },
        encoding: 'utf8',
      });
      const lines = readFileSync(calls, 'utf8').trim().split('\n');
      expect(lines).toHaveLength(3);
      for (const line of lines) {
        expect(line).toMatch(new RegExp(`/reconcile\\?scope=${scope}$`));
        expect(line).toContain('Authorization: Bearer t0ken');
      }
    } finally {
      rmSync(bin, { recursive: true, force: true });
    }
  });

  it('requests and limits CPU and memory, on a read-only root filesystem', () => {
    const containers = cronJob.spec?.jobTemplate.spec?.template.spec?.containers ?? [];
    expect(containers.length).toBeGreaterThan(0);
    for (const container of containers) {
      for (const kind of ['requests', 'limits'] as const) {
        expect(Object.keys(container.resources?.[kind] ?? {}).sort()).toEqual(['cpu', 'memory']);
      }
      expect(container.securityContext?.readOnlyRootFilesystem).toBe(true);
    }
  });
});

describe('OpenFaaS', () => {
  const account = one<Manifest>('openfaas/rbac.yaml', 'ServiceAccount');
  const role = one<V1Role>('openfaas/rbac.yaml', 'Role');
  const binding = one<V1RoleBinding>('openfaas/rbac.yaml', 'RoleBinding');

  it('runs the function as its own ServiceAccount, never the namespace default', () => {
    expect(stackFunction?.annotations['com.openfaas.serviceaccount']).toBe(account.metadata.name);
    expect(account.metadata.namespace).toBe('openfaas-fn');
    expect(binding.subjects).toEqual([
      { kind: 'ServiceAccount', name: account.metadata.name, namespace: 'openfaas-fn' },
    ]);
  });

  it("grants it the Knative Role's rights, in the namespace of the runner Jobs only", () => {
    expect(role.rules).toEqual(one<V1Role>('knative/rbac.yaml', 'Role').rules);
    expect(role.metadata?.namespace).toBe(stackFunction?.environment.NAMESPACE);
    expect(binding.metadata?.namespace).toBe(stackFunction?.environment.NAMESPACE);
    expect(binding.roleRef).toEqual({
      apiGroup: 'rbac.authorization.k8s.io',
      kind: 'Role',
      name: role.metadata?.name,
    });
  });

  it('sets only settings the function reads (no watchdog timeouts: there is no watchdog)', () => {
    const documented = new Set([...read('README.md').matchAll(/^\| `([A-Z_]+)`/gm)].map((m) => m[1]));
    const fromFiles = new Set(SECRET_SETTINGS.map((name) => `${name}_FILE`));
    const unknown = Object.keys(stackFunction?.environment ?? {}).filter(
      (name) => !documented.has(name) && !fromFiles.has(name),
    );
    expect(unknown).toEqual([]);
  });

  it('reconciles through the gateway, with the token of the function secret', () => {
    const cronJob = one<V1CronJob>('openfaas/reconcile-cronjob.yaml', 'CronJob');
    const container = cronJob.spec?.jobTemplate.spec?.template.spec?.containers[0];
    expect(cronJob.metadata?.namespace).toBe('openfaas-fn');
    expect(container?.command?.join(' ')).toContain(
      `http://gateway.openfaas.svc.cluster.local:8080/function/${functionName}/reconcile`,
    );
    const token = container?.env?.find((env) => env.name === 'RECONCILE_TOKEN')?.valueFrom?.secretKeyRef;
    expect(stackFunction?.secrets).toContain(token?.name);
    expect(stackFunction?.environment.RECONCILE_TOKEN_FILE).toBe(`/var/openfaas/secrets/${token?.key}`);
  });
});

describe("the README's kn recipe", () => {
  const recipe = /```bash\n(kn service create[^`]*)```/.exec(read('README.md'))?.[1] ?? '';
  const args = recipe.replace(/\\\n/g, ' ').split(/\s+/);
  const values = (flag: string) => args.flatMap((arg, i) => (args[i - 1] === flag ? [arg] : []));

  it('passes each secret of the Knative Service under the name the function reads', () => {
    expect(recipe).not.toBe('');
    expect(args).not.toContain('--env-from');
    const fromSecrets = (knativeContainer.env ?? []).flatMap((env) => {
      const ref = env.valueFrom?.secretKeyRef;
      return ref ? [`${env.name}=secret:${ref.name}:${ref.key}`] : [];
    });
    expect(fromSecrets.length).toBeGreaterThan(0);
    expect(values('--env-value-from').sort()).toEqual(fromSecrets.sort());
  });

  it('passes the same plain settings, account and limits as the manifest', () => {
    const plain = (knativeContainer.env ?? []).flatMap((env) =>
      env.value === undefined ? [] : [`${env.name}=${env.value}`],
    );
    expect(values('--env').sort()).toEqual(plain.sort());
    expect(values('--service-account')).toEqual([knativePod.serviceAccountName]);
    expect(values('--concurrency-limit')).toEqual([String(knativePod['containerConcurrency' as never])]);
    expect(values('--timeout')).toEqual([String(knativePod['timeoutSeconds' as never])]);
  });
});

describe('the license', () => {
  it('is the one package.json names', () => {
    const { license } = JSON.parse(read('package.json')) as { license: string };
    expect(read('LICENSE').split('\n')[0]).toBe(`${license} License`);
  });
});

describe("GitHub's limits shared by the Knative Service's instances", () => {
  it('are not split: the Service sets no GITHUB_LIMIT_INSTANCES, so one instance may use all the fleet has free', () => {
    const set = knativeContainer.env?.find((variable) => variable.name === 'GITHUB_LIMIT_INSTANCES');
    expect(set).toBeUndefined();
  });
});
