import { createHash } from 'node:crypto';
import type { V1Lease } from '@kubernetes/client-node';
import type { PauseStore } from '../github/credential-budget.js';
import type { Deadline } from '../retry/with-retries.js';
import { deadlineIn } from '../retry/with-retries.js';
import type { NamespacedCalls } from './namespaced-calls.js';
import { LABEL_PREFIX } from './record-schema.js';

/** Label and annotation of the Leases that hold a GitHub credential's pause. */
const PAUSE_LABEL = `${LABEL_PREFIX}/github-pause`;
const PAUSED_UNTIL = `${LABEL_PREFIX}/paused-until`;
const PAUSED_UNTIL_PATH = `/metadata/annotations/${PAUSED_UNTIL.replace('/', '~1')}`;

/** The Lease of a credential: its label hashed (a label such as `pat:owner` is not a valid object name). */
export function pauseLeaseName(credential: string): string {
  return `kar-pause-${createHash('sha256').update(credential).digest('hex').slice(0, 16)}`;
}

/** How long one read or write of a pause may take: a pause is an aid, never what a delivery waits on for long. */
const PAUSE_CALL_MS = 1500;

/**
 * A credential's pause as one Lease per credential in the runners' namespace (`kar-pause-<hash>`, the credential's
 * label as holderIdentity, the time in an annotation): read by every instance before it calls GitHub, written when
 * GitHub answers with a rate limit. A later pause is never replaced by an earlier one (the write is conditional on
 * the Lease's resourceVersion).
 */
export function createPauseLeases(calls: NamespacedCalls): PauseStore & {
  /** Every pause written, by credential label, for `doctor`. */
  list(deadline?: Deadline): Promise<{ credential: string; until: number }[]>;
} {
  const path = (credential: string) => calls.named(calls.paths.leases, pauseLeaseName(credential));
  const untilOf = (lease: V1Lease | undefined) => {
    const until = Number(lease?.metadata?.annotations?.[PAUSED_UNTIL]);
    return Number.isFinite(until) && until > 0 ? until : undefined;
  };
  const read = (credential: string, deadline: Deadline) =>
    calls.unless(
      [404],
      calls.call<V1Lease>(
        'failed to read a GitHub pause',
        { method: 'GET', path: path(credential) },
        deadline,
      ),
    );
  return {
    async read(credential) {
      return untilOf(await read(credential, deadlineIn(PAUSE_CALL_MS)));
    },
    async write(credential, until) {
      const deadline = deadlineIn(PAUSE_CALL_MS);
      for (let attempt = 0; attempt < 3; attempt += 1) {
        const lease: V1Lease = {
          apiVersion: 'coordination.k8s.io/v1',
          kind: 'Lease',
          metadata: {
            name: pauseLeaseName(credential),
            labels: { [PAUSE_LABEL]: 'true' },
            annotations: { [PAUSED_UNTIL]: String(until) },
          },
          spec: { holderIdentity: credential },
        };
        const created = await calls.createUnlessExists(
          'failed to write a GitHub pause',
          calls.paths.leases,
          lease,
          deadline,
        );
        if (created !== undefined) return;
        const existing = await read(credential, deadline);
        if (existing === undefined) continue;
        if ((untilOf(existing) ?? 0) >= until) return;
        const patched = await calls.unless(
          [409],
          calls.call(
            'failed to write a GitHub pause',
            calls.jsonPatch(path(credential), [
              // Conditional on the Lease as read: a pause written meanwhile is read again, never overwritten.
              { op: 'replace', path: '/metadata/resourceVersion', value: existing.metadata?.resourceVersion },
              { op: 'add', path: PAUSED_UNTIL_PATH, value: String(until) },
            ]),
            deadline,
          ),
        );
        if (patched !== undefined) return;
      }
    },
    async list(deadline) {
      const list = await calls.call<{ items: V1Lease[] }>(
        'failed to list GitHub pauses',
        { method: 'GET', path: calls.paths.leases, query: { labelSelector: `${PAUSE_LABEL}=true` } },
        deadline,
      );
      return list.items.flatMap((lease) => {
        const until = untilOf(lease);
        const credential = lease.spec?.holderIdentity;
        return until === undefined || credential === undefined ? [] : [{ credential, until }];
      });
    },
  };
}
