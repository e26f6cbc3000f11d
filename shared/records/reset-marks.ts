import type { V1Lease } from '@kubernetes/client-node';
import type { NamespacedCalls } from './namespaced-calls.js';
import { LABEL_PREFIX, type RecordFields, recordFieldsOf } from './record-schema.js';
import type { RecordStore, ResetMark } from './record-store.js';
import { listLeases } from './runner-slots.js';

/** Label and annotation of the Leases that mark a record reset in progress (see `RecordStore.markReset`). */
const RESET_LABEL = `${LABEL_PREFIX}/reset`;
const RESET_FIELDS = `${LABEL_PREFIX}/record-fields`;
const resetMarkName = (jobId: number) => `kar-reset-${jobId}`;

/**
 * Reset marks as Leases `kar-reset-<job id>`: a Lease, because the function may already create, list and delete
 * Leases (its slots); no owner, so that a mark outlives the Job it stands in for.
 */
export function createResetMarks(
  calls: NamespacedCalls,
): Pick<RecordStore, 'markReset' | 'listResetMarks' | 'clearResetMark'> {
  return {
    async markReset(fields, deadline) {
      const mark: V1Lease = {
        apiVersion: 'coordination.k8s.io/v1',
        kind: 'Lease',
        metadata: {
          name: resetMarkName(fields.jobId),
          labels: { [RESET_LABEL]: 'true' },
          annotations: { [RESET_FIELDS]: JSON.stringify(recordFieldsOf(fields)) },
        },
        spec: {},
      };
      await calls.createUnlessExists('failed to mark the reset', calls.paths.leases, mark, deadline);
    },
    async listResetMarks(deadline) {
      const marks: ResetMark[] = [];
      for (const lease of await listLeases(calls, `${RESET_LABEL}=true`, deadline)) {
        const fields = parseFields(lease.metadata?.annotations?.[RESET_FIELDS]);
        const created = lease.metadata?.creationTimestamp;
        if (fields !== undefined) marks.push({ fields, markedAt: created ? new Date(created).getTime() : 0 });
      }
      return marks;
    },
    async clearResetMark(jobId, deadline) {
      await calls.deleteUnlessMissing(
        'failed to clear the reset mark',
        calls.named(calls.paths.leases, resetMarkName(jobId)),
        deadline,
      );
    },
  };
}

/** The record fields a reset mark carries; `undefined` for a mark this version cannot read. */
function parseFields(text: string | undefined): RecordFields | undefined {
  try {
    const fields = JSON.parse(text ?? '') as Partial<RecordFields>;
    if (
      typeof fields.owner !== 'string' ||
      typeof fields.repo !== 'string' ||
      !Number.isSafeInteger(fields.jobId) ||
      !Array.isArray(fields.jobLabels)
    ) {
      return undefined;
    }
    return fields as RecordFields;
  } catch {
    return undefined;
  }
}
