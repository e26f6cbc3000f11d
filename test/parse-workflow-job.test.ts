import { describe, expect, it } from 'vitest';
import { PayloadError } from '../shared/errors/errors.js';
import { parsePing, parseWorkflowJob } from '../shared/webhook/parse-workflow-job.js';
import { examplesOf, queuedPayload } from '../stand-ins/payloads.js';

describe('parseWorkflowJob', () => {
  it('reads the fields we use from a real queued payload', () => {
    expect(parseWorkflowJob(JSON.stringify(queuedPayload()))).toEqual({
      action: 'queued',
      jobId: 12877621891,
      runId: 4747967848,
      runAttempt: 1,
      labels: ['self-hosted', 'k8s'],
      runnerId: null,
      runnerName: null,
      owner: 'lineville',
      repo: 'elastic-machines-testing',
      installationId: 23154469,
      isPublic: true,
    });
  });

  it('parses every workflow_job example GitHub documents', () => {
    for (const example of examplesOf('workflow_job')) {
      const parsed = parseWorkflowJob(JSON.stringify(example));
      expect(parsed.jobId).toBe(example.workflow_job?.id);
      expect(parsed.action).toBe(example.action);
    }
  });

  it.each([
    ['not JSON', '{"action":', /body is not valid JSON/],
    ['a JSON array', '[]', /body must be a JSON object/],
    [
      'no action',
      JSON.stringify({ ...queuedPayload(), action: undefined }),
      /payload field action must be a string/,
    ],
    [
      'no workflow_job',
      JSON.stringify({ ...queuedPayload(), workflow_job: undefined }),
      /workflow_job must be an object/,
    ],
    [
      'a string job id',
      JSON.stringify({ ...queuedPayload(), workflow_job: { ...queuedPayload().workflow_job, id: '1' } }),
      /workflow_job\.id must be a positive integer/,
    ],
    [
      'labels that are not strings',
      JSON.stringify({ ...queuedPayload(), workflow_job: { ...queuedPayload().workflow_job, labels: [1] } }),
      /workflow_job\.labels must be an array of strings/,
    ],
    [
      'no repository owner',
      JSON.stringify({ ...queuedPayload(), repository: { name: 'x' } }),
      /repository\.owner must be an object/,
    ],
  ])('refuses %s with a clear message', (_name, body, message) => {
    expect(() => parseWorkflowJob(body)).toThrow(PayloadError);
    expect(() => parseWorkflowJob(body)).toThrow(message);
  });
});

describe('parsePing', () => {
  it('reads the hook id of a real ping', () => {
    const ping = examplesOf('ping')[0];
    expect(parsePing(JSON.stringify(ping)).hookId).toBe((ping as { hook_id: number }).hook_id);
  });
});
