/** A REST route as GitHub's docs write it: `METHOD /path/{param}`. */
export type RestRoute = string;

/**
 * What a call passes: path, query or body parameters, plus the per-call headers, and an abort signal or a timeout
 * (the timeout is the fetch's own, `createHttpFetch`'s `timeoutMs`; a fetch without one gets a signal).
 */
export type RestParameters = Record<string, unknown> & {
  readonly headers?: Readonly<Record<string, string>>;
  readonly request?: { readonly signal?: AbortSignal; readonly timeoutMs?: number };
};

/** A successful answer: status, the body (parsed JSON, else text), the headers in lower case. */
export interface RestAnswer {
  readonly status: number;
  readonly data: unknown;
  readonly headers: Record<string, string>;
}

/**
 * A failed call, shaped as `@octokit/request`'s RequestError: `status` (500 when nothing was answered, which
 * then has no `response`) and the `response` with GitHub's headers and body.
 */
export class RestRequestError extends Error {
  override readonly name = 'HttpError';
  constructor(
    message: string,
    readonly status: number,
    readonly response: RestAnswer | undefined,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

export type RestRequest = (route: RestRoute, parameters: RestParameters) => Promise<RestAnswer>;

/** The fetch this needs; `createHttpFetch` is one. */
type Fetch = (
  url: string,
  init: {
    method: string;
    headers: Record<string, string>;
    body?: string;
    signal?: AbortSignal;
    timeoutMs?: number;
  },
) => Promise<{
  status: number;
  headers: Iterable<[string, string]> & { get(name: string): string | null };
  text(): Promise<string>;
}>;

/**
 * GitHub REST calls as `@octokit/request` makes them (the same URL, headers, JSON body and error shape), for the
 * hot path of a delivery, where octokit's per-call route parsing, header merging and big-number-safe JSON
 * reviver were a tenth of the function's CPU under a burst (`npm run bench`, `--cpu-prof`). Path parameters are
 * percent-encoded; the others go to the query string (GET, DELETE) or the JSON body. Authentication is per call.
 */
export function restRequest(
  baseUrl: string,
  fetchImpl: Fetch & { readonly supportsTimeout?: boolean },
  userAgent = 'kube-actions-runner',
): RestRequest {
  const base = baseUrl.replace(/\/$/, '');
  // Our own fetch bounds a request itself; any other gets a signal.
  const timeout = (ms: number | undefined) =>
    ms === undefined
      ? {}
      : fetchImpl.supportsTimeout
        ? { timeoutMs: ms }
        : { signal: AbortSignal.timeout(ms) };
  return async (route, parameters) => {
    const space = route.indexOf(' ');
    const method = route.slice(0, space);
    const { headers: callHeaders, request, ...rest } = parameters;
    const used = new Set<string>();
    const path = route.slice(space + 1).replace(/\{(\w+)\}/g, (_, name: string) => {
      used.add(name);
      return encodeURIComponent(String(rest[name]));
    });
    const others = Object.entries(rest).filter(([name, value]) => !used.has(name) && value !== undefined);
    const headers: Record<string, string> = {
      accept: 'application/vnd.github.v3+json',
      'user-agent': userAgent,
      'x-github-api-version': '2022-11-28',
      ...callHeaders,
    };
    let url = base + path;
    let body: string | undefined;
    if (method === 'GET' || method === 'DELETE') {
      if (others.length > 0) {
        const query = others.map(([name, value]) => `${name}=${encodeURIComponent(String(value))}`);
        url += `?${query.join('&')}`;
      }
    } else if (others.length > 0) {
      body = JSON.stringify(Object.fromEntries(others));
      headers['content-type'] = 'application/json; charset=utf-8';
    }
    let response: Awaited<ReturnType<Fetch>>;
    try {
      response = await fetchImpl(url, {
        method,
        headers,
        ...(body === undefined ? {} : { body }),
        ...(request?.signal ? { signal: request.signal } : {}),
        ...timeout(request?.timeoutMs),
      });
    } catch (error) {
      if ((error as Error).name === 'AbortError') throw error;
      throw new RestRequestError((error as Error).message, 500, undefined, { cause: error });
    }
    const answerHeaders: Record<string, string> = {};
    for (const [name, value] of response.headers) answerHeaders[name] = value;
    const answer = { status: response.status, headers: answerHeaders, data: undefined as unknown };
    if (response.status === 204 || response.status === 205) return answer;
    const text = await response.text();
    answer.data = text;
    if (/^application\/(scim\+)?json\b/i.test(response.headers.get('content-type') ?? '')) {
      try {
        answer.data = JSON.parse(text);
      } catch {
        // GitHub said JSON and sent something else: keep the text, as octokit does.
      }
    }
    // As octokit: a redirect the fetch did not follow is an answer, except 304 (nothing was sent).
    if (response.status >= 400 || response.status === 304) {
      const message = (answer.data as { message?: unknown } | undefined)?.message;
      throw new RestRequestError(
        typeof message === 'string' ? message : `HTTP ${response.status}`,
        response.status,
        answer,
      );
    }
    return answer;
  };
}
