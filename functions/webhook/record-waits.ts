import type { RunnerRecord } from '../../shared/records/runner-record.js';
import type { HandlerDeps } from './deps.js';

/** What a record waits for: GitHub's limits, a cap, a node of its machine, its start, or its runner's pod. */
export type WaitReason = 'github' | 'cap' | 'node' | 'queued' | 'starting';
const WAIT_REASONS: readonly WaitReason[] = ['github', 'cap', 'node', 'queued', 'starting'];

/** Counts waiting records by reason, with the oldest wait of each (from its record, its queued delivery). */
export function createWaits(now: number) {
  const by = new Map(WAIT_REASONS.map((reason) => [reason, { count: 0, oldest: 0 }]));
  return {
    add(reason: WaitReason, record: RunnerRecord) {
      const of = by.get(reason) as { count: number; oldest: number };
      of.count += 1;
      of.oldest = Math.max(of.oldest, Math.max(0, now - record.createdAt) / 1000);
    },
    /** Every reason, 0 included: a reason no record waits for any more must not keep its last count. */
    report(gauge: HandlerDeps['metrics']['recordsWaiting']) {
      for (const [reason, { count, oldest }] of by) gauge.set(reason, count, oldest);
    },
  };
}
