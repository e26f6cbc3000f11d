import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKubeApi, type KubeApi, KubeApiError } from '../shared/kubernetes/kube-api.js';
import { type RecordingServer, startRecordingServer } from './support/recording-server.js';

describe('createKubeApi', () => {
  let server: RecordingServer;
  let api: KubeApi;
  /** What the next request is answered with. */
  let answer: {
    status: number;
    body: string;
    headers?: Record<string, string>;
    /** Called as the request arrives; the answer waits for `until`. */
    reached?: () => void;
    until?: Promise<void>;
  };

  beforeAll(async () => {
    server = await startRecordingServer((_request, response) => {
      const { status, body, headers = {}, reached, until } = answer;
      reached?.();
      void Promise.resolve(until).then(() => {
        if (response.destroyed) return;
        response.writeHead(status, { 'content-type': 'application/json', ...headers }).end(body);
      });
    });
    api = createKubeApi({
      server: new URL(`${server.url}/prefix/`),
      tls: { rejectUnauthorized: true },
      authorization: async () => 'Bearer t0ken',
      source: 'test',
    });
  });
  afterAll(async () => {
    api.close();
    server.close();
  });

  it('sends JSON with the bearer token, the query and the content type, and parses the answer', async () => {
    answer = { status: 201, body: '{"kind":"Job","metadata":{"name":"runner-1"}}' };
    const created = await api.request<{ metadata: { name: string } }>({
      method: 'PATCH',
      path: '/apis/batch/v1/namespaces/default/jobs/runner-1',
      query: { fieldManager: 'kube-actions-runner', continue: undefined, limit: 5 },
      contentType: 'application/json-patch+json',
      body: [{ op: 'add', path: '/a', value: 'ü' }],
    });
    expect(created.metadata.name).toBe('runner-1');
    const last = server.seen.at(-1);
    expect(last?.method).toBe('PATCH');
    expect(last?.url).toBe(
      '/prefix/apis/batch/v1/namespaces/default/jobs/runner-1?fieldManager=kube-actions-runner&limit=5',
    );
    expect(last?.headers.authorization).toBe('Bearer t0ken');
    expect(last?.headers['content-type']).toBe('application/json-patch+json');
    expect(JSON.parse(last?.body ?? '')).toEqual([{ op: 'add', path: '/a', value: 'ü' }]);
    expect(Number(last?.headers['content-length'])).toBe(Buffer.byteLength(last?.body ?? ''));
  });

  it('keeps one connection alive across sequential calls instead of a new one per call', async () => {
    answer = { status: 200, body: '{}' };
    await api.request({ method: 'GET', path: '/version' });
    const before = server.connections();
    for (let call = 0; call < 20; call += 1) await api.request({ method: 'GET', path: '/version' });
    expect(server.connections()).toBe(before);
  });

  it("throws the API server's Status message with the status and Retry-After", async () => {
    answer = {
      status: 429,
      body: '{"kind":"Status","message":"too many requests, please try again later"}',
      headers: { 'retry-after': '2' },
    };
    const error = await api.request({ method: 'GET', path: '/x' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(KubeApiError);
    expect(error).toMatchObject({
      status: 429,
      message: 'too many requests, please try again later',
      retryAfterSeconds: 2,
    });
    answer = { status: 503, body: 'upstream connect error' };
    await expect(api.request({ method: 'GET', path: '/x' })).rejects.toMatchObject({
      status: 503,
      message: 'upstream connect error',
      retryAfterSeconds: undefined,
    });
  });

  it('aborts a request when its signal fires', async () => {
    // The server holds its answer and the signal fires once the request has reached it: only the signal can end
    // the request (no clock to race, and no request of this test reaches the server during the next one).
    const signal = new AbortController();
    let release = () => {};
    const until = new Promise<void>((resolve) => {
      release = resolve;
    });
    answer = { status: 200, body: '{}', reached: () => signal.abort(), until };
    await expect(api.request({ method: 'GET', path: '/slow', signal: signal.signal })).rejects.toThrow(
      /abort/i,
    );
    release();
  });

  it('gives up after timeoutMs with a TimeoutError', async () => {
    let release = () => {};
    const until = new Promise<void>((resolve) => {
      release = resolve;
    });
    answer = { status: 200, body: '{}', until };
    await expect(api.request({ method: 'GET', path: '/slow', timeoutMs: 30 })).rejects.toMatchObject({
      name: 'TimeoutError',
    });
    release();
  });

  it('after a 401, asks for a fresh token and tries once more; the same token is not sent twice', async () => {
    const seenBefore = server.seen.length;
    answer = { status: 401, body: '{"kind":"Status","message":"Unauthorized"}' };
    let current = 'Bearer old';
    let freshAsks = 0;
    const rotating = createKubeApi({
      server: new URL(server.url),
      tls: { rejectUnauthorized: true },
      authorization: async (options) => {
        if (options?.fresh) freshAsks += 1;
        return current;
      },
      source: 'test',
    });
    // The credential did not change: one request, one fresh ask, then the 401.
    await expect(rotating.request({ method: 'GET', path: '/a' })).rejects.toMatchObject({ status: 401 });
    expect(server.seen.length - seenBefore).toBe(1);
    expect(freshAsks).toBe(1);
    // It changed (rotated on disk, or a plugin ran again): the request is retried with the new one.
    const retried = createKubeApi({
      server: new URL(server.url),
      tls: { rejectUnauthorized: true },
      authorization: async (options) => (options?.fresh ? 'Bearer new' : current),
      source: 'test',
    });
    current = 'Bearer old';
    const routed = server.seen.length;
    answer = { status: 401, body: '{}' };
    const attempt = retried.request({ method: 'GET', path: '/b' });
    // The stand-in answers 401 to everything here, so the retry fails too, but it was made with the new token.
    await expect(attempt).rejects.toMatchObject({ status: 401 });
    expect(server.seen.slice(routed).map((request) => request.headers.authorization)).toEqual([
      'Bearer old',
      'Bearer new',
    ]);
    rotating.close();
    retried.close();
  });
});
