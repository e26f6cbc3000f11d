import { createHash } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import type { NamespacedCalls } from './namespaced-calls.js';
import { LABEL_PREFIX } from './record-schema.js';
import type { DeliveryMark, RecordStore } from './record-store.js';

/** Label and annotations of the Leases that say how far back a webhook's deliveries have been looked through. */
const SEEN_LABEL = `${LABEL_PREFIX}/deliveries-seen`;
const SEEN_SINCE = `${LABEL_PREFIX}/seen-since`;
const SCAN_CURSOR = `${LABEL_PREFIX}/scan-cursor`;
const SCAN_TOP = `${LABEL_PREFIX}/scan-top`;
const pathOf = (annotation: string) => `/metadata/annotations/${annotation.replace('/', '~1')}`;

/** The Lease of a delivery source (`owner/repo#hook`, or `app`): hashed, since a source is no valid object name. */
export function deliveryMarkName(source: string): string {
  return `kar-deliveries-${createHash('sha256').update(source).digest('hex').slice(0, 16)}`;
}

/**
 * Delivery marks as one Lease per webhook (`kar-deliveries-<hash>`, the source as holderIdentity, the mark in
 * annotations): reconcile lists a webhook's deliveries back to its mark instead of back to the start of GitHub's
 * redelivery window on every pass, and a look through more pages than one pass can read goes on where the last
 * stopped. The time a mark says only moves forward; a write that loses a race to another pass is dropped (the next
 * pass lists a little more, never less).
 */
export function createDeliveryMarks(
  calls: NamespacedCalls,
): Pick<RecordStore, 'readDeliveryMark' | 'writeDeliveryMark'> {
  const path = (source: string) => calls.named(calls.paths.leases, deliveryMarkName(source));
  const read = (source: string, deadline: Parameters<RecordStore['readDeliveryMark']>[1]) =>
    calls.unless(
      [404],
      calls.call<V1Lease>('failed to read a delivery mark', { method: 'GET', path: path(source) }, deadline),
    );
  const markOf = (lease: V1Lease | undefined): DeliveryMark | undefined => {
    if (lease === undefined) return undefined;
    const annotations = lease.metadata?.annotations ?? {};
    const time = (value: string | undefined) =>
      value !== undefined && !Number.isNaN(Date.parse(value)) ? value : undefined;
    const since = time(annotations[SEEN_SINCE]);
    const cursor = annotations[SCAN_CURSOR] || undefined;
    const top = time(annotations[SCAN_TOP]);
    return {
      ...(since ? { since } : {}),
      ...(cursor && top ? { scan: { cursor, top } } : {}),
    };
  };
  const annotationsOf = (mark: DeliveryMark) => ({
    [SEEN_SINCE]: mark.since ?? '',
    [SCAN_CURSOR]: mark.scan?.cursor ?? '',
    [SCAN_TOP]: mark.scan?.top ?? '',
  });
  return {
    async readDeliveryMark(source, deadline) {
      return markOf(await read(source, deadline));
    },
    async writeDeliveryMark(source, mark, deadline) {
      const lease: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: deliveryMarkName(source),
          labels: { [SEEN_LABEL]: 'true' },
          annotations: annotationsOf(mark),
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
      if (existing === undefined) return;
      if ((markOf(existing)?.since ?? '') > (mark.since ?? '')) return;
      await calls.unless(
        [409],
        calls.call(
          'failed to write a delivery mark',
          calls.jsonPatch(path(source), [
            // Conditional on the Lease as read: a mark moved meanwhile is never moved back.
            { op: 'replace', path: '/metadata/resourceVersion', value: existing.metadata?.resourceVersion },
            ...Object.entries(annotationsOf(mark)).map(([key, value]) => ({
              op: 'add' as const,
              path: pathOf(key),
              value,
            })),
          ]),
          deadline,
        ),
      );
    },
  };
}
