/**
 * What ships in knative/, deployment/ and openfaas/ is what the real API server accepts: every manifest, and each
 * whole kustomization, pass a server-side dry run with strict field validation, against the Knative Serving,
 * Knative Eventing and Prometheus Operator CRDs from their published modules. A typo must fail. And the README's
 * install steps are run as written, each create and apply as a server-side dry run.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAll } from 'js-yaml';
import { beforeAll, describe, expect, inject, it } from 'vitest';
import { ensureNamespace, kubectl } from './support/cluster.js';

const root = fileURLToPath(new URL('../../', import.meta.url));
const knative = fileURLToPath(new URL('../../knative/', import.meta.url));
const crdScript = fileURLToPath(new URL('../../scripts/control-plane/crds.sh', import.meta.url));
const manifests = readdirSync(knative).filter(
  (file) => file.endsWith('.yaml') && file !== 'kustomization.yaml',
);

function dryRun(input: string): { status: number; output: string } {
  try {
    return {
      status: 0,
      output: kubectl(['apply', '--dry-run=server', '--validate=strict', '-f', '-'], input),
    };
  } catch (error) {
    const failure = error as { status?: number; stderr?: string };
    return { status: failure.status ?? 1, output: failure.stderr ?? '' };
  }
}

beforeAll(() => {
  const crds = execFileSync('bash', [crdScript], { encoding: 'utf8' }).trim().split('\n');
  expect(crds.length).toBeGreaterThanOrEqual(10);
  for (const crd of crds) kubectl(['apply', '--server-side', '-f', crd]);
  kubectl(['wait', '--for=condition=Established', '--timeout=60s', 'crd', '--all']);
  ensureNamespace('github-runners');
  // Made by an OpenFaaS install, which openfaas/ and the README's OpenFaaS steps come after.
  ensureNamespace('openfaas-fn');
  ensureNamespace('github-runner-jobs');
}, 120_000);

describe('knative/ against the real API server', () => {
  it.each(manifests)('%s passes a strict server-side dry run', (file) => {
    const answer = dryRun(readFileSync(`${knative}${file}`, 'utf8'));
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
    expect(answer.output).toMatch(/\(server dry run\)/);
  });

  it('the kustomization builds and passes as a whole', () => {
    const built = kubectl(['kustomize', knative]);
    expect(built).toContain('kind: CronJob');
    const answer = dryRun(built);
    expect(answer.status).toBe(0);
    expect(answer.output).toContain(
      'service.serving.knative.dev/kube-actions-runner created (server dry run)',
    );
  });

  it.each([
    ['service.yaml', 'containerConcurrency', 'containerConcurency'],
    ['monitoring/podmonitor.yaml', 'interval:', 'intervall:'],
    ['reconcile-cronjob.yaml', 'schedule:', 'shedule:'],
    ['rbac.yaml', 'roleRef:', 'roleref:'],
  ])('a typo in %s fails (%s -> %s)', (file, good, typo) => {
    const broken = readFileSync(`${knative}${file}`, 'utf8').replace(good, typo);
    const answer = dryRun(broken);
    expect(answer.status).not.toBe(0);
    expect(answer.output).toMatch(/unknown field|strict decoding error/);
  });
});

const otherFolders = ['deployment', 'openfaas'];
const otherManifests = otherFolders.flatMap((folder) =>
  readdirSync(`${root}${folder}`)
    .filter((file) => file.endsWith('.yaml') && file !== 'kustomization.yaml')
    .map((file) => `${folder}/${file}`),
);

/** The built CronJob's container next to the function's, as kustomize made them. */
function builtReconcile(folder: string): { reconcile: unknown; function: unknown } {
  const docs = loadAll(kubectl(['kustomize', folder])) as {
    apiVersion: string;
    kind: string;
    spec: {
      template: { spec: { containers: { image: string; env: unknown }[] } };
      jobTemplate: { spec: { template: { spec: { containers: { image: string; env: unknown }[] } } } };
    };
  }[];
  const cronJob = docs.find((doc) => doc.kind === 'CronJob');
  // The function: the Knative Service, or the Deployment (deployment/ also has a plain Service in front of it).
  const fn = docs.find(
    (doc) =>
      (doc.kind === 'Service' && doc.apiVersion.startsWith('serving.knative.dev/')) ||
      doc.kind === 'Deployment',
  )?.spec.template.spec.containers[0];
  const reconcile = cronJob?.spec.jobTemplate.spec.template.spec.containers[0];
  return {
    reconcile: { image: reconcile?.image, env: reconcile?.env },
    function: { image: fn?.image, env: fn?.env },
  };
}

describe('the reconcile CronJob, as kustomize builds it', () => {
  it.each(['knative', 'deployment'])("runs %s/'s function image and settings", (folder) => {
    const built = builtReconcile(`${root}${folder}`);
    expect(built.reconcile).toEqual(built.function);
  });

  it('runs the image an overlay sets, with the settings of service.yaml as edited in the clone', () => {
    // An overlay's patch of the Service's env comes after the base's replacements and so does not reach the
    // CronJob (kustomize's order); the README says to patch both, or edit service.yaml. An image set by an
    // overlay's `images:` reaches both, as it matches by name.
    const overlay = mkdtempSync(join(tmpdir(), 'kar-overlay-'));
    try {
      writeFileSync(
        join(overlay, 'kustomization.yaml'),
        `resources:\n  - ${relative(overlay, `${root}knative`)}\nimages:\n` +
          '  - name: ghcr.io/kube-actions-runner/kube-actions-runner\n    newTag: 9.9.9\n',
      );
      const built = builtReconcile(overlay) as { reconcile: { image: string }; function: unknown };
      expect(built.reconcile).toEqual(built.function);
      expect(built.reconcile.image).toMatch(/:9\.9\.9$/);
    } finally {
      rmSync(overlay, { recursive: true, force: true });
    }
  });
});

describe('deployment/ and openfaas/ against the real API server', () => {
  it.each(otherManifests)('%s passes a strict server-side dry run', (file) => {
    const answer = dryRun(readFileSync(`${root}${file}`, 'utf8'));
    expect(answer.output).not.toContain('Error');
    expect(answer.status).toBe(0);
    expect(answer.output).toMatch(/\(server dry run\)/);
  });

  it('the Deployment overlay builds without Knative objects and passes as a whole', () => {
    const built = kubectl(['kustomize', `${root}deployment`]);
    expect(built).not.toMatch(/^apiVersion: serving\.knative\.dev\//m);
    const answer = dryRun(built);
    expect(answer.status).toBe(0);
    for (const made of [
      'deployment.apps/kube-actions-runner created',
      'service/kube-actions-runner created',
      'cronjob.batch/kube-actions-runner-reconcile created',
      'role.rbac.authorization.k8s.io/kube-actions-runner',
    ]) {
      expect(answer.output).toContain(made);
    }
  });

  it('the OpenFaaS kustomization builds and passes as a whole', () => {
    const answer = dryRun(kubectl(['kustomize', `${root}openfaas`]));
    expect(answer.status).toBe(0);
    expect(answer.output).toContain('serviceaccount/kube-actions-runner');
    expect(answer.output).toContain('cronjob.batch/kube-actions-runner-reconcile created (server dry run)');
  });

  it('a typo in deployment/deployment.yaml fails', () => {
    const broken = readFileSync(`${root}deployment/deployment.yaml`, 'utf8').replace(
      'readinessProbe:',
      'readinesProbe:',
    );
    const answer = dryRun(broken);
    expect(answer.status).not.toBe(0);
    expect(answer.output).toMatch(/unknown field|strict decoding error/);
  });
});

/**
 * The README's bash blocks that install a folder (`kubectl apply -k <folder>/`), run by bash as written. kubectl is
 * the test cluster's, and every create and apply is a server-side dry run (apply with strict validation); a
 * namespace that exists already is left as it is; reads of what a dry run did not make are skipped, and so is
 * faas-cli (stack.yml has a test of its own).
 */
function runReadmeInstall(folder: string): string[] {
  const readme = readFileSync(`${root}README.md`, 'utf8');
  const blocks = [...readme.matchAll(/```bash\n([\s\S]*?)```/g)]
    .map((match) => match[1] ?? '')
    .filter((block) => block.split('\n').includes(`kubectl apply -k ${folder}/`));
  const preamble = `
set -euo pipefail
kubectl() {
  case "$1" in
    create)
      if [ "$2" = namespace ]; then "$K" --kubeconfig "$KC" get namespace "$3" >/dev/null || "$K" --kubeconfig "$KC" create "${'$'}{@:2}" --dry-run=server
      else "$K" --kubeconfig "$KC" "$@" --dry-run=server; fi ;;
    apply) "$K" --kubeconfig "$KC" "$@" --dry-run=server --validate=strict ;;
    *) echo "skipped: kubectl $*" ;;
  esac
}
faas-cli() { echo "skipped: faas-cli $*"; }
`;
  return blocks.map((block) =>
    execFileSync('bash', ['-c', `${preamble}\n${block}`], {
      cwd: root,
      encoding: 'utf8',
      env: { ...process.env, K: inject('kubectl'), KC: inject('kubeconfig') },
      stdio: ['ignore', 'pipe', 'pipe'],
    }),
  );
}

describe("the README's install steps, run as written", () => {
  it.each([
    ['knative', 2, 'service.serving.knative.dev/kube-actions-runner created (server dry run)'],
    ['deployment', 1, 'deployment.apps/kube-actions-runner created (server dry run)'],
    ['openfaas', 1, 'cronjob.batch/kube-actions-runner-reconcile created (server dry run)'],
  ])('%s/: %i block(s)', (folder, count, made) => {
    const outputs = runReadmeInstall(folder);
    expect(outputs).toHaveLength(count);
    for (const output of outputs) {
      expect(output).toContain('secret/kube-actions-runner-secrets created (server dry run)');
      expect(output).toContain(made);
    }
  });
});
