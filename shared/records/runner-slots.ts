import type { V1Lease } from '@kubernetes/client-node';
import type { Deadline } from '../retry/with-retries.js';
import type { ListOf, NamespacedCalls } from './namespaced-calls.js';
import { LABEL_PREFIX } from './record-schema.js';
import type { RecordStore } from './record-store.js';

/** Labels of the Leases that are runner slots (concurrency caps). */
const SLOT_LABEL = `${LABEL_PREFIX}/slot`;
const SLOT_SCOPE = `${LABEL_PREFIX}/slot-scope`;
const SLOT_HOLDER = `${LABEL_PREFIX}/slot-holder`;

/** Every Lease with these labels. */
export async function listLeases(
  calls: NamespacedCalls,
  selector: string,
  deadline?: Deadline,
): Promise<V1Lease[]> {
  const list = await calls.call<ListOf<V1Lease>>(
    'failed to list Leases',
    { method: 'GET', path: calls.paths.leases, query: { labelSelector: selector } },
    deadline,
  );
  return list.items;
}

/**
 * Runner slots as Leases `kar-slot-<scope>-<index>`: taken by create (a 409 means taken, so two replicas cannot
 * both take the last one), owned by the holder's Job so that the garbage collector frees them with it at the latest.
 */
export function createRunnerSlots(
  calls: NamespacedCalls,
): Pick<RecordStore, 'acquireSlot' | 'releaseSlots' | 'listSlots'> {
  return {
    async acquireSlot(scope, capacity, holder, deadline) {
      const taken = new Set(
        (await listLeases(calls, `${SLOT_LABEL}=true,${SLOT_SCOPE}=${scope}`, deadline)).map(
          (lease) => lease.metadata?.name,
        ),
      );
      for (let index = 0; index < capacity; index += 1) {
        const name = `kar-slot-${scope}-${index}`;
        if (taken.has(name)) continue;
        const lease: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name,
            labels: { [SLOT_LABEL]: 'true', [SLOT_SCOPE]: scope, [SLOT_HOLDER]: holder.name },
            ownerReferences: [{ apiVersion: 'batch/v1', kind: 'Job', name: holder.name, uid: holder.uid }],
          },
          spec: { holderIdentity: holder.name },
        };
        const created = await calls.createUnlessExists(
          'failed to take a runner slot',
          calls.paths.leases,
          lease,
          deadline,
        );
        if (created !== undefined) return true;
      }
      return false;
    },
    async releaseSlots(holder, deadline) {
      for (const lease of await listLeases(calls, `${SLOT_LABEL}=true,${SLOT_HOLDER}=${holder}`, deadline)) {
        const name = lease.metadata?.name;
        if (name === undefined) continue;
        await calls.deleteUnlessMissing(
          'failed to free a runner slot',
          calls.named(calls.paths.leases, name),
          deadline,
        );
      }
    },
    async listSlots(deadline) {
      return (await listLeases(calls, `${SLOT_LABEL}=true`, deadline)).map((lease) => ({
        name: lease.metadata?.name ?? '',
        holder: lease.spec?.holderIdentity ?? '',
        scope: lease.metadata?.labels?.[SLOT_SCOPE] ?? '',
      }));
    },
  };
}
