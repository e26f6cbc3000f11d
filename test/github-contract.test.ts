import { describe, expect, it } from 'vitest';
import { operation } from '../stand-ins/github-contract.js';
import { createStandInReleases } from '../stand-ins/github-releases.js';
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

describe("GitHub's App endpoints, as the stand-in checks them", () => {
  const INSTALLATIONS = operation('get', '/app/installations');
  const APP = operation('get', '/app');
  const url = 'https://api.github.com/users/octocat';
  const user = {
    login: 'octocat',
    id: 1,
    node_id: 'U_1',
    avatar_url: 'https://avatars.githubusercontent.com/u/1',
    gravatar_id: '',
    url,
    html_url: 'https://github.com/octocat',
    followers_url: url,
    following_url: url,
    gists_url: url,
    starred_url: url,
    subscriptions_url: url,
    organizations_url: url,
    repos_url: url,
    events_url: url,
    received_events_url: url,
    type: 'User',
    site_admin: false,
  };
  const app = {
    id: 1,
    node_id: 'A_1',
    owner: user,
    name: 'app',
    description: null,
    external_url: 'https://example.com',
    html_url: 'https://github.com/apps/app',
    created_at: '2026-01-01T00:00:00Z',
    updated_at: '2026-01-01T00:00:00Z',
    permissions: {},
    events: ['workflow_job'],
  };

  it('takes a nullable schema without a type (the App, an owner of either shape) as "this or null"', () => {
    expect(APP.checkResponse(200, app)).toEqual([]);
    expect(APP.checkResponse(200, null)).toEqual([]);
    expect(APP.checkResponse(200, { ...app, owner: { login: 'octocat' } }).length).toBeGreaterThan(0);
  });

  it('holds an installation in the list to its published account shape', () => {
    const installation = { id: 1, account: user, permissions: {}, events: [] };
    expect(INSTALLATIONS.checkResponse(200, [{ ...installation, account: null }]).join()).not.toMatch(
      /account/,
    );
    expect(
      INSTALLATIONS.checkResponse(200, [{ ...installation, account: { login: 'octocat' } }]).join(),
    ).toMatch(/account/);
  });
});

describe("GitHub's release endpoints, as the stand-in serves them", () => {
  const LATEST = operation('get', '/repos/{owner}/{repo}/releases/latest');
  const LIST = operation('get', '/repos/{owner}/{repo}/releases');
  const releases = createStandInReleases();
  releases.set([
    { version: '2.339.0', daysAgo: 31 },
    { version: '2.340.0-beta', daysAgo: 1, prerelease: true },
  ]);
  const api = 'https://api.github.com';

  it('takes the release the stand-in serves, and not a bare one', () => {
    const latest = releases.latest(api, 'actions/runner', undefined);
    expect(latest?.status).toBe(200);
    expect(LATEST.checkResponse(200, latest?.body)).toEqual([]);
    expect(LATEST.checkResponse(200, { tag_name: 'v2.339.0' }).length).toBeGreaterThan(5);
    const list = releases.list(api, 'actions/runner', new URL(`${api}/x?per_page=100`), undefined);
    expect(LIST.checkResponse(200, list.body)).toEqual([]);
    expect(list.headers?.link).toBeUndefined();
    const paged = releases.list(api, 'actions/runner', new URL(`${api}/x?per_page=1`), undefined);
    expect((paged.body as unknown[]).length).toBe(1);
    expect(paged.headers?.link).toBe(
      `<${api}/x?per_page=1&page=2>; rel="next", <${api}/x?per_page=1&page=2>; rel="last"`,
    );
  });

  it('answers a matching If-None-Match with a 304 and no body, which the contract takes for a GET only', () => {
    const first = releases.latest(api, 'actions/runner', undefined);
    const etag = first?.headers?.etag;
    expect(etag).toMatch(/^W\/"[0-9a-f]+"$/);
    const again = releases.latest(api, 'actions/runner', etag);
    expect(again).toMatchObject({ status: 304, body: undefined });
    expect(LATEST.checkResponse(304, undefined)).toEqual([]);
    expect(LATEST.checkResponse(304, { message: 'x' })).toEqual(['a 304 answer carries no body']);
    expect(JIT.checkResponse(304, undefined)).toEqual([
      'status 304 is not documented for post /repos/{owner}/{repo}/actions/runners/generate-jitconfig',
    ]);
    releases.set([{ version: '2.340.0', daysAgo: 0 }]);
    expect(releases.latest(api, 'actions/runner', etag)?.status).toBe(200);
  });

  it('serves the newest release that is not a prerelease as the latest, and none for another repository', () => {
    releases.set([
      { version: '2.339.0', daysAgo: 31 },
      { version: '2.340.0', daysAgo: 1, prerelease: true },
    ]);
    expect(releases.latest(api, 'actions/runner', undefined)?.body).toMatchObject({ tag_name: 'v2.339.0' });
    expect(releases.latest(api, 'octo-org/app', undefined)).toBeUndefined();
  });
});
