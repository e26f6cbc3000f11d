import { describe, expect, it } from 'vitest';
import { buildRunnerJob } from '../shared/records/build-runner-job.js';
import { toRunnerRecord } from '../shared/records/runner-record.js';
import { profileOf } from './support/profiles.js';

const job = () =>
  buildRunnerJob({
    profile: profileOf('standard'),
    secretName: 'runner-7',
    namespace: 'default',
    ttlSecondsAfterFinished: 300,
    owner: 'octo-org',
    repo: 'example',
    jobId: 7,
    runId: 1,
    runAttempt: 1,
    deliveryId: 'd',
    jobLabels: ['self-hosted'],
    suspend: true,
  });

describe('toRunnerRecord', () => {
  it('reads a Job going away (deletionTimestamp set) as removed, and a live suspended one as queued', () => {
    const live = job();
    expect(toRunnerRecord(live)).toMatchObject({ name: 'runner-7', jobId: 7, state: 'queued' });
    const dying = job();
    dying.metadata = { ...dying.metadata, deletionTimestamp: new Date('2026-11-28T22:00:00Z') };
    expect(toRunnerRecord(dying)?.state).toBe('removed');
  });

  it('reads a resumed Job as started, and one with a Complete or Failed condition as finished', () => {
    const started = job();
    started.spec = { ...(started.spec as NonNullable<typeof started.spec>), suspend: false };
    expect(toRunnerRecord(started)?.state).toBe('started');
    for (const type of ['Complete', 'Failed']) {
      const done = job();
      done.spec = { ...(done.spec as NonNullable<typeof done.spec>), suspend: false };
      done.status = { conditions: [{ type, status: 'True' } as never] };
      expect(toRunnerRecord(done)?.state).toBe('finished');
    }
  });
});
