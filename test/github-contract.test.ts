import { describe, expect, it } from 'vitest';
import { operation } from '../stand-ins/github-contract.js';
import { queuedPayload } from '../stand-ins/payloads.js';

const JIT = operation('post', '/repos/{owner}/{repo}/actions/runners/generate-jitconfig');
const JOB = operation('get', '/repos/{owner}/{repo}/actions/jobs/{job_id}');

describe("GitHub's published contract, as the stand-in checks it", () => {
  it('accepts the JIT request the function sends', () => {
    expect(
      JIT.checkRequest({
        name: 'runner-1',
        runner_group_id: 1,
        labels: ['self-hosted'],
        work_folder: '_work',
      }),
    ).toEqual([]);
  });

  it('rejects JIT requests that break the schema', () => {
    expect(JIT.checkRequest({ name: 'runner-1', labels: ['self-hosted'] })).toContain(
      "(root) must have required property 'runner_group_id'",
    );
    expect(JIT.checkRequest({ name: 'runner-1', runner_group_id: 1, labels: [] }).join()).toMatch(
      /labels must NOT have fewer than 1 items/,
    );
  });

  it('rejects an answer missing encoded_jit_config, and undocumented success statuses', () => {
    const runner = { id: 1, name: 'r', os: 'linux', status: 'offline', busy: false, labels: [] };
    expect(JIT.checkResponse(201, { runner, encoded_jit_config: 'e30=' })).toEqual([]);
    expect(JIT.checkResponse(201, { runner })).toContain(
      "(root) must have required property 'encoded_jit_config'",
    );
    expect(JIT.checkResponse(200, { runner, encoded_jit_config: 'e30=' })).toEqual([
      'status 200 is not documented for post /repos/{owner}/{repo}/actions/runners/generate-jitconfig',
    ]);
  });

  it("holds generic errors to GitHub's basic-error shape", () => {
    const body = {
      message: 'Server Error',
      documentation_url: 'https://docs.github.com/rest',
      status: '503',
    };
    expect(JOB.checkResponse(503, body)).toEqual([]);
    expect(JOB.checkResponse(404, { error: 'not found' }).length).toBeGreaterThan(0);
  });

  it('takes the job the stand-in serves, built from a real payload, and not a bare one', () => {
    const { workflow_job } = queuedPayload();
    expect(
      JOB.checkResponse(200, {
        workflow_name: null,
        head_branch: null,
        created_at: workflow_job.started_at,
        ...workflow_job,
      }),
    ).toEqual([]);
    expect(JOB.checkResponse(200, { id: 1, status: 'queued' }).length).toBeGreaterThan(5);
  });
});
