import { createHash } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import type { Grant, Ledger, LedgerStore } from '../github/budget-ledger.js';
import { deadlineIn } from '../retry/with-retries.js';
import type { NamespacedCalls } from './namespaced-calls.js';
import { LABEL_PREFIX } from './record-schema.js';

/** Label and annotation of the Leases that hold a GitHub credential's shared budget. */
const BUDGET_LABEL = `${LABEL_PREFIX}/github-budget`;
const GRANTS = `${LABEL_PREFIX}/grants`;
const GRANTS_PATH = `/metadata/annotations/${GRANTS.replace('/', '~1')}`;

/** The Lease of a credential's budget: its label hashed (a label such as `pat:owner` is not a valid object name). */
export function budgetLeaseName(credential: string): string {
  return `kar-budget-${createHash('sha256').update(credential).digest('hex').slice(0, 16)}`;
}

/**
 * How long one read or write of the ledger may take. A call to GitHub waits for it, so it is short; one that fails
 * or is too slow leaves the call unsent (the record waits), never sent on a guess.
 */
const LEDGER_CALL_MS = 1500;

/** The grants as kept in the annotation: short keys, one array per grant. */
type Stored = [
  id: string,
  holder: string,
  route: string,
  calls: number,
  points: number,
  until: number,
  slots: number,
];

function grantsOf(lease: V1Lease): Grant[] {
  const text = lease.metadata?.annotations?.[GRANTS];
  if (text === undefined || text === '') return [];
  // A ledger that cannot be read is refused, not taken as empty: an empty one would let calls past GitHub's limits.
  const stored = JSON.parse(text) as unknown;
  if (!Array.isArray(stored)) throw new Error(`the ledger of Lease ${lease.metadata?.name} is not a list`);
  return stored.map((entry: Stored) => {
    const [id, holder, route, calls, points, until, slotsUntil] = entry;
    if (![calls, points, until, slotsUntil].every(Number.isFinite))
      throw new Error(`the ledger of Lease ${lease.metadata?.name} holds a malformed grant`);
    return { id, holder, route, calls, points, until, slotsUntil };
  });
}

const textOf = (grants: readonly Grant[]) =>
  JSON.stringify(
    grants.map((g): Stored => [g.id, g.holder, g.route, g.calls, g.points, g.until, g.slotsUntil]),
  );

const ledgerOf = (lease: V1Lease): Ledger => ({
  grants: grantsOf(lease),
  version: lease.metadata?.resourceVersion,
});

/**
 * Each credential's shared GitHub budget as one Lease in the runners' namespace (`kar-budget-<hash>`, the
 * credential's label as holderIdentity, the grants as JSON in an annotation), written only conditionally on the
 * resourceVersion read (a JSON Patch whose first operation sets it: the API server answers 409 when the Lease has
 * changed since), or created (409 when another process created it first).
 */
export function createBudgetLeases(calls: NamespacedCalls): LedgerStore {
  const path = (credential: string) => calls.named(calls.paths.leases, budgetLeaseName(credential));
  return {
    async read(credential) {
      const lease = await calls.unless(
        [404],
        calls.call<V1Lease>(
          'failed to read a GitHub budget',
          { method: 'GET', path: path(credential) },
          deadlineIn(LEDGER_CALL_MS),
        ),
      );
      return lease === undefined ? { grants: [], version: undefined } : ledgerOf(lease);
    },
    async write(credential, grants, version) {
      const deadline = deadlineIn(LEDGER_CALL_MS);
      if (version === undefined) {
        const lease: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: budgetLeaseName(credential),
            labels: { [BUDGET_LABEL]: 'true' },
            annotations: { [GRANTS]: textOf(grants) },
          },
          spec: { holderIdentity: credential },
        };
        const created = await calls.createUnlessExists<V1Lease>(
          'failed to write a GitHub budget',
          calls.paths.leases,
          lease,
          deadline,
        );
        return created === undefined ? undefined : ledgerOf(created);
      }
      const patched = await calls.unless(
        [409],
        calls.call<V1Lease>(
          'failed to write a GitHub budget',
          calls.jsonPatch(path(credential), [
            { op: 'replace', path: '/metadata/resourceVersion', value: version },
            { op: 'add', path: GRANTS_PATH, value: textOf(grants) },
          ]),
          deadline,
        ),
      );
      return patched === undefined ? undefined : ledgerOf(patched);
    },
  };
}
