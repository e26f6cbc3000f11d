/**
 * What the deploy files promise each other, read as the tools read them: the image the release workflow pushes
 * is the one every manifest runs; the plain Deployment runs the Knative Service's container; the OpenFaaS stack
 * runs as its own ServiceAccount with the same rights, and its reconcile schedule reaches it; the kn recipe in
 * the README passes the same settings; and every container has its limits. The API server and Knative's own
 * validation judge the same files in the end-to-end suite.
 */
import { readdirSync, readFileSync } from 'node:fs';
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
import { loadConfig } from '../../shared/config/load-config.js';
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
const [, stackFunction] = Object.entries(stack.functions)[0] ?? [];
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

  const pod = cronJob.spec?.jobTemplate.spec?.template.spec;
  const container = pod?.containers[0];

  it("runs the function's own image as the reconcile task, with the function's account", () => {
    expect(pod?.containers).toHaveLength(1);
    expect(container?.image).toBe(knativeContainer.image);
    expect(container?.command).toBeUndefined();
    expect(container?.args).toEqual(['reconcile']);
    expect(pod?.serviceAccountName).toBe(knativePod.serviceAccountName);
    expect(pod?.automountServiceAccountToken).not.toBe(false);
  });

  it('ends a run before the next one is due, after the task has had its time', () => {
    const every = Number(/^\*\/(\d+) /.exec(cronJob.spec?.schedule ?? '')?.[1]);
    const deadline = cronJob.spec?.jobTemplate.spec?.activeDeadlineSeconds ?? Infinity;
    expect(cronJob.spec?.concurrencyPolicy).toBe('Forbid');
    expect(deadline).toBeLessThan(every * 60);
    const defaults = loadConfig({ WEBHOOK_SECRET: 's', GITHUB_TOKEN: 't' });
    expect(defaults.reconcileRunSeconds + defaults.reconcileBudgetSeconds + 10).toBeLessThan(deadline);
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

describe('the reconcile pods', () => {
  it("carry the function's settings as shipped: the Knative Service's, and stack.yml's on OpenFaaS", () => {
    const env = (path: string) =>
      one<V1CronJob>(path, 'CronJob').spec?.jobTemplate.spec?.template.spec?.containers[0]?.env;
    expect(env('knative/reconcile-cronjob.yaml')).toEqual(knativeContainer.env);
    const openfaas = env('openfaas/reconcile-cronjob.yaml') ?? [];
    expect(Object.fromEntries(openfaas.map((variable) => [variable.name, variable.value]))).toEqual(
      stackFunction?.environment,
    );
  });

  it("are copied the Service's (or the Deployment's) image and settings by kustomize", () => {
    for (const [path, kind] of [
      ['knative/kustomization.yaml', 'Service'],
      ['deployment/kustomization.yaml', 'Deployment'],
    ] as const) {
      const { replacements } = load(read(path)) as {
        replacements: { source: { kind: string; fieldPath: string }; targets: { fieldPaths: string[] }[] }[];
      };
      const copied = replacements
        .filter((r) => r.source.kind === kind)
        .map((r) => [r.source.fieldPath, r.targets[0]?.fieldPaths[0]]);
      expect(copied).toEqual([
        ['spec.template.spec.containers.0.image', 'spec.jobTemplate.spec.template.spec.containers.0.image'],
        ['spec.template.spec.containers.0.env', 'spec.jobTemplate.spec.template.spec.containers.0.env'],
      ]);
    }
  });

  it('are not selected by the Service that serves the function', () => {
    const selector = one<{ spec: { selector: Record<string, string> } }>('deployment/service.yaml', 'Service')
      .spec.selector;
    for (const path of ['knative/reconcile-cronjob.yaml', 'openfaas/reconcile-cronjob.yaml']) {
      const labels = one<V1CronJob>(path, 'CronJob').spec?.jobTemplate.spec?.template.metadata?.labels ?? {};
      const selected = Object.entries(selector).every(([key, value]) => labels[key] === value);
      expect(selected, path).toBe(false);
    }
  });
});

describe('an idle install', () => {
  /** Every shipped manifest that runs on a schedule. */
  const scheduled = ['knative', 'deployment', 'openfaas', 'examples/knative-with-monitoring'].flatMap((dir) =>
    readdirSync(`${root}${dir}`)
      .filter((file) => file.endsWith('.yaml'))
      .flatMap((file) =>
        docs<Manifest & { spec?: { schedule?: string } }>(`${dir}/${file}`)
          .filter((doc) => doc?.spec?.schedule !== undefined)
          .map((doc) => ({ path: `${dir}/${file}`, doc })),
      ),
  );

  it('sends no scheduled request to the function more often than every 15 minutes', () => {
    expect(scheduled.length).toBeGreaterThan(0);
    for (const { path, doc } of scheduled) {
      // A PingSource posts to its sink; a CronJob reaches the function when its pod makes an HTTP call (the
      // reconcile task runs in its own pod and calls only GitHub and the API server).
      const pod = (doc as unknown as V1CronJob).spec?.jobTemplate?.spec?.template.spec;
      const calls =
        doc.kind === 'PingSource' || /curl|wget|https?:\/\//.test(JSON.stringify(pod?.containers ?? []));
      if (!calls) continue;
      const gap = smallestGapMinutes(doc.spec?.schedule ?? '');
      expect(gap, `${path}: ${doc.kind} ${doc.metadata.name}`).toBeGreaterThanOrEqual(15);
    }
  });

  it('sees its failed deliveries asked for again within 5 minutes', () => {
    for (const { path, doc } of scheduled.filter(({ doc }) => doc.metadata.name.endsWith('-reconcile'))) {
      expect(smallestGapMinutes(doc.spec?.schedule ?? ''), path).toBeLessThanOrEqual(4);
      expect(largestGapMinutes(doc.spec?.schedule ?? ''), path).toBeLessThanOrEqual(4);
    }
  });

  it('measures a schedule as cron does', () => {
    expect(smallestGapMinutes('* * * * *')).toBe(1);
    expect(smallestGapMinutes('*/4 * * * *')).toBe(4);
    expect(smallestGapMinutes('*/7 * * * *')).toBe(4);
    expect(largestGapMinutes('*/7 * * * *')).toBe(7);
    expect(smallestGapMinutes('0,30 */2 * * *')).toBe(30);
    expect(largestGapMinutes('0,30 */2 * * *')).toBe(90);
    expect(smallestGapMinutes('5 9-17 * * 1-5')).toBe(60);
  });
});

/** A day's firing minutes of a cron schedule's minute and hour fields (*, lists, ranges, steps). */
function firings(schedule: string): number[] {
  const [minute = '', hour = ''] = schedule.trim().split(/\s+/);
  const field = (text: string, max: number) =>
    text.split(',').flatMap((part) => {
      const [range = '', step] = part.split('/');
      // `*` is every value; `a-b` a range; `a` one value, or with a step (`a/n`) every n-th from a on.
      const [from = 0, to = max] =
        range === '*' ? [] : range.includes('-') ? range.split('-').map(Number) : [Number(range)];
      const last = range === '*' || range.includes('-') || step !== undefined ? to : from;
      const values: number[] = [];
      for (let value = from; value <= last; value += Number(step ?? 1)) values.push(value);
      return values;
    });
  return field(hour, 23)
    .flatMap((h) => field(minute, 59).map((m) => h * 60 + m))
    .sort((a, b) => a - b);
}

/** The gaps between firings over a day, the last one to the first one of the next day included. */
function gaps(schedule: string): number[] {
  const at = firings(schedule);
  return at.map((time, i) => (i + 1 < at.length ? (at[i + 1] as number) : (at[0] as number) + 1440) - time);
}
const smallestGapMinutes = (schedule: string) => Math.min(...gaps(schedule));
const largestGapMinutes = (schedule: string) => Math.max(...gaps(schedule));

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

  it("reconciles with the function's Secret, mounted where OpenFaaS mounts it for the function", () => {
    const cronJob = one<V1CronJob>('openfaas/reconcile-cronjob.yaml', 'CronJob');
    const pod = cronJob.spec?.jobTemplate.spec?.template.spec;
    expect(cronJob.metadata?.namespace).toBe('openfaas-fn');
    expect(pod?.serviceAccountName).toBe(stackFunction?.annotations['com.openfaas.serviceaccount']);
    const mount = pod?.containers[0]?.volumeMounts?.[0];
    expect(mount).toMatchObject({ mountPath: '/var/openfaas/secrets', readOnly: true });
    const volume = pod?.volumes?.find((v) => v.name === mount?.name);
    expect(stackFunction?.secrets).toEqual([volume?.secret?.secretName]);
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
