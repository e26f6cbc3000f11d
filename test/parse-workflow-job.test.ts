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
      times: {
        createdAt: Date.parse('2023-04-19T21:12:12Z'),
        startedAt: Date.parse('2023-04-19T21:12:12Z'),
        completedAt: undefined,
      },
      conclusion: null,
    });
  });

  it("reads GitHub's times and conclusion from a real completed payload", () => {
    const completed = examplesOf('workflow_job').find(
      (example) => example.action === 'completed' && example.workflow_job?.conclusion === 'success',
    );
    const parsed = parseWorkflowJob(JSON.stringify(completed));
    expect(parsed.times).toEqual({
      createdAt: Date.parse('2021-08-05T10:33:58Z'),
      startedAt: Date.parse('2021-08-05T10:34:58Z'),
      completedAt: Date.parse('2021-08-05T10:38:16Z'),
    });
    expect(parsed.conclusion).toBe('success');
  });

  it.each([
    ['a number', 1700000000],
    ['a date without a time', '2026-12-08'],
    ['no time at all', 'yesterday'],
    ['an impossible date', '2026-13-45T99:00:00Z'],
  ])('refuses a started_at that is %s, naming the field', (_, value) => {
    const payload = queuedPayload();
    const body = JSON.stringify({ ...payload, workflow_job: { ...payload.workflow_job, started_at: value } });
    expect(() => parseWorkflowJob(body)).toThrow(
      new PayloadError('payload field workflow_job.started_at must be an ISO 8601 time or null'),
    );
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
