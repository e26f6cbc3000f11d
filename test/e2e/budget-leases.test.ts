/**
 * The shared GitHub budget's Lease as the real API server judges it, with the function's own ServiceAccount and
 * the shipped RBAC: a write names the resourceVersion it read and is refused (409) once another landed first, and
 * two processes racing for one credential's budget never hold more than its limits between them.
 */
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import type { Grant, LedgerStore } from '../../shared/github/budget-ledger.js';
import { createCredentialBudget } from '../../shared/github/credential-budget.js';
import { createKubeApi } from '../../shared/kubernetes/kube-api.js';
import { kubeconfigConnection } from '../../shared/kubernetes/kubeconfig-connection.js';
import { createBudgetLeases } from '../../shared/records/budget-leases.js';
import { createNamespacedCalls } from '../../shared/records/namespaced-calls.js';
import { deadlineIn } from '../../shared/retry/with-retries.js';
import { ensureNamespace, kubectl, serviceAccountKubeconfig } from './support/cluster.js';

const NAMESPACE = 'github-runner-jobs';
const ACCOUNT_NAMESPACE = 'github-runners';
const rbacManifest = readFileSync(fileURLToPath(new URL('../../knative/rbac.yaml', import.meta.url)), 'utf8');
const JIT = 'POST /repos/{owner}/{repo}/actions/runners/generate-jitconfig';
/** Two processes, each with its own connection to the API server. */
let stores: LedgerStore[] = [];

const grant = (id: string): Grant => ({
  id,
  holder: id,
  route: JIT,
  calls: 1,
  points: 5,
  until: Date.now() + 60_000,
  slotsUntil: Date.now() + 10_000,
});

beforeAll(() => {
  ensureNamespace(ACCOUNT_NAMESPACE);
  kubectl(['apply', '-f', '-'], rbacManifest);
  const kubeconfig = serviceAccountKubeconfig(
    mkdtempSync(join(tmpdir(), 'kar-e2e-')),
    ACCOUNT_NAMESPACE,
    'kube-actions-runner',
  );
  stores = [1, 2].map(() =>
    createBudgetLeases(createNamespacedCalls(createKubeApi(kubeconfigConnection([kubeconfig])), NAMESPACE)),
  );
});

describe("a credential's budget Lease on the real API server", () => {
  it('is written only at the version read: the second of two writes from one read is refused', async () => {
    const [one, two] = stores as [LedgerStore, LedgerStore];
    const empty = await one.read('pat:e2e-versions');
    expect(empty).toEqual({ grants: [], version: undefined });
    // Both create from "none": one wins, the other is told (409 AlreadyExists).
    const created = await Promise.all([
      one.write('pat:e2e-versions', [grant('a/1')], undefined),
      two.write('pat:e2e-versions', [grant('b/1')], undefined),
    ]);
    expect(created.filter((ledger) => ledger !== undefined)).toHaveLength(1);
    const read = await two.read('pat:e2e-versions');
    // Both patch from the same version: one wins (409 Conflict for the other), and its grants are what is kept.
    const patched = await Promise.all([
      one.write('pat:e2e-versions', [...read.grants, grant('a/2')], read.version),
      two.write('pat:e2e-versions', [...read.grants, grant('b/2')], read.version),
    ]);
    const won = patched.filter((ledger) => ledger !== undefined);
    expect(won).toHaveLength(1);
    expect((await one.read('pat:e2e-versions')).grants).toEqual(won[0]?.grants);
    expect(won[0]?.grants).toHaveLength(2);
  });

  it('keeps two racing processes together within the limits', async () => {
    const limits = { concurrency: 100, pointsPerMinute: 900, contentPerMinute: undefined, windowMs: 60_000 };
    const budgets = stores.map((ledgers) => createCredentialBudget(limits, { ledgers }));
    const results = await Promise.all(
      budgets.flatMap((budget) =>
        Array.from({ length: 150 }, () =>
          budget.acquire('pat:e2e-race', JIT, deadlineIn(8000)).then(
            (release) => {
              release();
              return 1;
            },
            () => 0,
          ),
        ),
      ),
    );
    const sent = results.reduce((sum: number, one: number) => sum + one, 0);
    // 900 points a window, 5 a registration: 180 at most between them; most of it used.
    expect(sent).toBeLessThanOrEqual(180);
    expect(sent).toBeGreaterThanOrEqual(120);
    const ledger = await (stores[0] as LedgerStore).read('pat:e2e-race');
    const held = ledger.grants
      .filter((g) => g.until > Date.now())
      .reduce((sum, g) => sum + g.calls * g.points, 0);
    expect(held).toBeLessThanOrEqual(900);
    expect(new Set(ledger.grants.map((g) => g.holder)).size).toBe(2);
  });
});
