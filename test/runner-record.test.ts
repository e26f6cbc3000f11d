import { describe, expect, it } from 'vitest';
import { toRunnerRecord } from '../shared/kubernetes/runner-record.js';
import { buildRunnerJob } from '../shared/modes/build-runner-job.js';
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
  it('reads a Job going away (deletionTimestamp set) as deleting, and a live one as not', () => {
    const live = job();
    expect(toRunnerRecord(live)).toMatchObject({
      name: 'runner-7',
      jobId: 7,
      suspended: true,
      deleting: false,
    });
    const dying = job();
    dying.metadata = { ...dying.metadata, deletionTimestamp: new Date('2026-11-28T22:00:00Z') };
    expect(toRunnerRecord(dying)?.deleting).toBe(true);
  });
});
