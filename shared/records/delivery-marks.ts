import { createHash } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import type { NamespacedCalls } from './namespaced-calls.js';
import { LABEL_PREFIX } from './record-schema.js';
import type { RecordStore } from './record-store.js';

/** Label and annotation of the Leases that say how far back a webhook's deliveries have been looked through. */
const SEEN_LABEL = `${LABEL_PREFIX}/deliveries-seen`;
const SEEN_SINCE = `${LABEL_PREFIX}/seen-since`;
const SEEN_SINCE_PATH = `/metadata/annotations/${SEEN_SINCE.replace('/', '~1')}`;

/** The Lease of a delivery source (`owner/repo#hook`, or `app`): hashed, since a source is no valid object name. */
export function deliveryMarkName(source: string): string {
  return `kar-deliveries-${createHash('sha256').update(source).digest('hex').slice(0, 16)}`;
}

/**
 * Delivery marks as one Lease per webhook (`kar-deliveries-<hash>`, the source as holderIdentity, the time in an
 * annotation): reconcile lists a webhook's deliveries back to its mark instead of back to the start of GitHub's
 * redelivery window on every pass. A mark only moves forward; a write that loses a race to another pass is dropped
 * (the next pass lists a little more, never less).
 */
export function createDeliveryMarks(
  calls: NamespacedCalls,
): Pick<RecordStore, 'deliveriesSeenSince' | 'markDeliveriesSeen'> {
  const path = (source: string) => calls.named(calls.paths.leases, deliveryMarkName(source));
  const read = (source: string, deadline: Parameters<RecordStore['deliveriesSeenSince']>[1]) =>
    calls.unless(
      [404],
      calls.call<V1Lease>('failed to read a delivery mark', { method: 'GET', path: path(source) }, deadline),
    );
  const sinceOf = (lease: V1Lease | undefined) => {
    const since = lease?.metadata?.annotations?.[SEEN_SINCE];
    return since !== undefined && !Number.isNaN(Date.parse(since)) ? since : undefined;
  };
  return {
    async deliveriesSeenSince(source, deadline) {
      return sinceOf(await read(source, deadline));
    },
    async markDeliveriesSeen(source, since, deadline) {
      const lease: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: deliveryMarkName(source),
          labels: { [SEEN_LABEL]: 'true' },
          annotations: { [SEEN_SINCE]: since },
        },
        spec: { holderIdentity: source },
      };
      const created = await calls.createUnlessExists(
        'failed to write a delivery mark',
        calls.paths.leases,
        lease,
        deadline,
      );
      if (created !== undefined) return;
      const existing = await read(source, deadline);
      if (existing === undefined || (sinceOf(existing) ?? '') >= since) return;
      await calls.unless(
        [409],
        calls.call(
          'failed to write a delivery mark',
          calls.jsonPatch(path(source), [
            // Conditional on the Lease as read: a mark moved meanwhile is never moved back.
            { op: 'replace', path: '/metadata/resourceVersion', value: existing.metadata?.resourceVersion },
            { op: 'add', path: SEEN_SINCE_PATH, value: since },
          ]),
          deadline,
        ),
      );
    },
  };
}
