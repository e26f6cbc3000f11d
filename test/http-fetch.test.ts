import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { githubRequest } from '../shared/github/github-request.js';
import { restRequest } from '../shared/github/rest-request.js';
import { createHttpFetch } from '../shared/http/http-fetch.js';
import { type RecordingServer, startRecordingServer } from './support/recording-server.js';

describe('createHttpFetch', () => {
  const httpFetch = createHttpFetch();
  let main: RecordingServer;
  let other: RecordingServer;
  const last = () => main.seen.at(-1);

  beforeAll(async () => {
    other = await startRecordingServer((_request, response) => response.end('elsewhere'));
    main = await startRecordingServer((request, response) => {
      const [path] = (request.url ?? '').split('?');
      const redirects: Record<string, [number, string]> = {
        '/see-other': [303, '/landed'],
        '/temporary': [307, '/landed'],
        '/moved': [302, '/landed'],
        '/cross': [301, `${other.url}/there`],
        '/loop': [302, '/loop'],
      };
      const redirect = redirects[path ?? ''];
      if (redirect) {
        response.writeHead(redirect[0], { location: redirect[1] }).end();
        return;
      }
      if (path === '/slow') {
        setTimeout(() => response.end('late'), 500);
        return;
      }
      response
        .writeHead(path === '/missing' ? 404 : 200, {
          'content-type': 'application/json; charset=utf-8',
          'x-ratelimit-remaining': '4999',
          'set-cookie': ['a=1', 'b=2'],
        })
        .end(path === '/missing' ? '{"message":"Not Found"}' : '{"id":7,"name":"ü"}');
    });
  });
  afterAll(() => {
    httpFetch.close();
    main.close();
    other.close();
  });

  it('answers like fetch: status, ok, url, case-insensitive headers, text and JSON', async () => {
    const response = await httpFetch(`${main.url}/thing`, {
      method: 'post',
      headers: { 'Content-Type': 'application/json', Authorization: 'token x' },
      body: '{"a":1}',
    });
    expect(response).toMatchObject({ ok: true, status: 200, statusText: 'OK', url: `${main.url}/thing` });
    expect(response.headers.get('X-RateLimit-Remaining')).toBe('4999');
    expect(response.headers.get('set-cookie')).toBe('a=1, b=2');
    expect(response.headers.get('absent')).toBeNull();
    expect(Object.fromEntries(response.headers)).toMatchObject({ 'x-ratelimit-remaining': '4999' });
    expect(await response.json()).toEqual({ id: 7, name: 'ü' });
    expect(last()).toMatchObject({ method: 'POST', body: '{"a":1}' });
    expect(last()?.headers.authorization).toBe('token x');
  });

  it('follows redirects the way fetch does', async () => {
    const post = { method: 'POST', headers: { 'content-type': 'text/plain' }, body: 'payload' };
    const afterSeeOther = await httpFetch(`${main.url}/see-other`, post);
    expect(afterSeeOther.redirected).toBe(true);
    expect(afterSeeOther.url).toBe(`${main.url}/landed`);
    expect(last()).toMatchObject({ method: 'GET', url: '/landed', body: '' });
    await httpFetch(`${main.url}/moved`, post);
    expect(last()).toMatchObject({ method: 'GET', url: '/landed', body: '' });
    await httpFetch(`${main.url}/temporary`, post);
    expect(last()).toMatchObject({ method: 'POST', url: '/landed', body: 'payload' });
    // Credentials never follow a redirect to another origin.
    const crossed = await httpFetch(`${main.url}/cross`, { headers: { authorization: 'token secret' } });
    expect(await crossed.text()).toBe('elsewhere');
    expect(other.seen.at(-1)?.url).toBe('/there');
    expect(other.seen.at(-1)?.headers.authorization).toBeUndefined();
    await expect(httpFetch(`${main.url}/loop`)).rejects.toThrow(/more than 5 redirects/);
    expect((await httpFetch(`${main.url}/moved`, { redirect: 'manual' })).status).toBe(302);
  });

  it('reuses kept-alive connections and aborts on its signal', async () => {
    await httpFetch(`${main.url}/warm`);
    const before = main.connections();
    for (let call = 0; call < 10; call += 1) await (await httpFetch(`${main.url}/again`)).text();
    expect(main.connections()).toBe(before);
    await expect(httpFetch(`${main.url}/slow`, { signal: AbortSignal.timeout(30) })).rejects.toMatchObject({
      name: 'AbortError',
    });
  });

  it('gives up after timeoutMs with a TimeoutError, and a request in time is not cut', async () => {
    const started = performance.now();
    await expect(httpFetch(`${main.url}/slow`, { timeoutMs: 30 })).rejects.toMatchObject({
      name: 'TimeoutError',
      message: expect.stringMatching(/timeout/),
    });
    expect(performance.now() - started).toBeLessThan(450);
    expect(await (await httpFetch(`${main.url}/again`, { timeoutMs: 5000 })).json()).toEqual({
      id: 7,
      name: 'ü',
    });
  });

  it('restRequest calls as @octokit/request does: path encoded, query, JSON body, errors with status', async () => {
    const request = restRequest(main.url, httpFetch);
    const ok = await request('GET /repos/{owner}/{repo}/runners', {
      owner: 'o w',
      repo: 'r',
      per_page: 100,
      headers: { authorization: 'token t' },
      request: { timeoutMs: 5000 },
    });
    expect(ok.data).toEqual({ id: 7, name: 'ü' });
    expect(ok.headers['x-ratelimit-remaining']).toBe('4999');
    expect(last()?.url).toBe('/repos/o%20w/r/runners?per_page=100');
    expect(last()?.headers).toMatchObject({
      authorization: 'token t',
      accept: 'application/vnd.github.v3+json',
      'x-github-api-version': '2022-11-28',
    });
    await request('POST /repos/{owner}/{repo}/x', { owner: 'o', repo: 'r', name: 'n', labels: ['a'] });
    expect(last()?.headers['content-type']).toBe('application/json; charset=utf-8');
    expect(JSON.parse(last()?.body ?? '')).toEqual({ name: 'n', labels: ['a'] });
    const error = await request('GET /missing', {}).catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      name: 'HttpError',
      status: 404,
      response: { data: { message: 'Not Found' } },
    });
    const timedOut = await request('GET /slow', { request: { timeoutMs: 30 } }).catch(
      (caught: unknown) => caught,
    );
    expect(timedOut).toMatchObject({
      status: 500,
      response: undefined,
      message: expect.stringMatching(/timeout/),
    });
  });

  it('is what @octokit/request needs: data parsed, errors as RequestError with status and message', async () => {
    const request = githubRequest(main.url, httpFetch as unknown as typeof fetch);
    const ok = await request('GET /repos/{owner}/{repo}', { owner: 'o', repo: 'r' });
    expect(ok.data).toEqual({ id: 7, name: 'ü' });
    expect(ok.headers['x-ratelimit-remaining']).toBe('4999');
    const error = await request('GET /missing').catch((caught: unknown) => caught);
    expect(error).toMatchObject({
      name: 'HttpError',
      status: 404,
      message: expect.stringContaining('Not Found'),
    });
  });
});
