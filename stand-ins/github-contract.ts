/**
 * GitHub's published contract for the REST endpoints the function calls, from `@octokit/openapi` (GitHub's own
 * OpenAPI description). The GitHub stand-in checks every request it receives against it, and the contract test
 * checks every answer the stand-in gives, so the stand-in cannot drift from the real API.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

type Json = Record<string, unknown>;

export interface OperationContract {
  /** Problems with a request body, or an empty list. */
  checkRequest(body: unknown): string[];
  /**
   * Problems with a response body for that status, or an empty list. Statuses an operation does not list (a 401,
   * a 404 for a missing job, a 5xx) are GitHub's generic errors and must carry its `basic-error` body; an
   * undocumented success status is a problem, but for a 304 with no body to a GET: GitHub's answer to a
   * conditional request, which its description documents for no operation in particular
   * (https://docs.github.com/en/rest/using-the-rest-api/best-practices-for-using-the-rest-api#use-conditional-requests-if-appropriate).
   */
  checkResponse(status: number, body: unknown): string[];
}

let spec: Json | undefined;
const ajv = new Ajv({ strict: false, allErrors: true });
// ajv-formats is published as CommonJS with a default export.
(addFormatsModule as unknown as { default: (a: Ajv) => void }).default?.(ajv) ??
  (addFormatsModule as unknown as (a: Ajv) => void)(ajv);

function loadSpec(): Json {
  if (spec === undefined) {
    const path = createRequire(import.meta.url).resolve('@octokit/openapi/generated/api.github.com.json');
    spec = JSON.parse(readFileSync(path, 'utf8')) as Json;
  }
  return spec;
}

/** Inlines `#/components/...` references so that a subtree is a standalone JSON Schema. */
function resolve(node: unknown, root: Json, depth = 0): unknown {
  if (depth > 64) throw new Error('reference chain too deep in the OpenAPI description');
  if (Array.isArray(node)) return node.map((item) => resolve(item, root, depth + 1));
  if (typeof node !== 'object' || node === null) return node;
  const ref = (node as Json).$ref;
  if (typeof ref === 'string') {
    const target = ref
      .replace(/^#\//, '')
      .split('/')
      .reduce<unknown>((at, key) => (at as Json)[key.replace(/~1/g, '/').replace(/~0/g, '~')], root);
    return resolve(target, root, depth + 1);
  }
  const schema = Object.fromEntries(
    Object.entries(node).map(([key, value]) => [key, resolve(value, root, depth + 1)]),
  );
  // GitHub's description marks fields like a job's `conclusion` as `nullable` with an `enum` that omits null, and
  // the real API sends null there. OpenAPI 3.0 means nullable to allow null; say so to the JSON Schema validator.
  if (schema.nullable === true && Array.isArray(schema.enum) && !schema.enum.includes(null)) {
    schema.enum = [...schema.enum, null];
  }
  // `nullable` beside `allOf`/`anyOf` and no `type` (an installation's `account`, say): JSON Schema's validator
  // takes `nullable` only with a `type`, so say "this, or null" in its own terms.
  if (schema.nullable === true && schema.type === undefined) {
    const { nullable: _, ...rest } = schema;
    return { anyOf: [rest, { type: 'null' }] };
  }
  return schema;
}

const cache = new Map<string, OperationContract>();
let basicErrorValidator: ValidateFunction | undefined;

function basicError(root: Json): ValidateFunction {
  // The published basic-error requires nothing; GitHub's error answers always carry these two fields.
  basicErrorValidator ??= ajv.compile({
    allOf: [
      resolve({ $ref: '#/components/schemas/basic-error' }, root),
      { required: ['message', 'documentation_url'] },
    ],
  });
  return basicErrorValidator;
}

/** The contract of one operation, e.g. `operation('post', '/repos/{owner}/{repo}/actions/runners/generate-jitconfig')`. */
export function operation(method: string, path: string): OperationContract {
  const key = `${method} ${path}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const root = loadSpec();
  const op = ((root.paths as Json)[path] as Json | undefined)?.[method] as Json | undefined;
  if (op === undefined) throw new Error(`GitHub's OpenAPI description has no ${key}`);
  const resolved = resolve(op, root) as Json;
  const jsonSchema = (content: unknown): ValidateFunction | undefined => {
    const schema = ((content as Json | undefined)?.['application/json'] as Json | undefined)?.schema;
    return schema === undefined ? undefined : ajv.compile(schema as Json);
  };
  const requestValidator = jsonSchema((resolved.requestBody as Json | undefined)?.content);
  const responses = new Map<string, ValidateFunction | undefined>();
  for (const [status, response] of Object.entries(resolved.responses as Json)) {
    responses.set(status, jsonSchema((response as Json).content));
  }
  const problems = (validate: ValidateFunction | undefined, body: unknown): string[] => {
    if (validate === undefined || validate(body)) return [];
    return (validate.errors ?? []).map(
      (error) => `${error.instancePath || '(root)'} ${error.message ?? 'is invalid'}`,
    );
  };
  const contract: OperationContract = {
    checkRequest: (body) => problems(requestValidator, body),
    checkResponse(status, body) {
      if (status === 304 && method === 'get' && !responses.has('304')) {
        return body === undefined ? [] : ['a 304 answer carries no body'];
      }
      if (!responses.has(String(status))) {
        if (status < 400) return [`status ${status} is not documented for ${key}`];
        return problems(basicError(root), body);
      }
      return problems(responses.get(String(status)), body);
    },
  };
  cache.set(key, contract);
  return contract;
}
