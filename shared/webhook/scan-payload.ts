import { PayloadError } from '../errors/errors.js';

/** What a scan of a payload's text finds, without building any of it. */
export interface PayloadScan {
  /** `repository.owner.login` as the text has it (the last one, as JSON.parse keeps the last duplicate key). */
  readonly owner: string | undefined;
}

/**
 * GitHub's `workflow_job` payload nests four levels deep (`workflow_job.steps[i]`); a signed body nested millions of
 * levels deep made JSON.parse take seconds and hundreds of MiB. 32 leaves room for any event we read.
 */
export const MAX_PAYLOAD_DEPTH = 32;

/** The keys on the path to `repository.owner.login`, by depth; every other key is `OTHER`. */
const PATH_KEYS = ['repository', 'owner', 'login'] as const;
const OTHER = -1;

/**
 * One linear pass over a JSON text that refuses nesting deeper than `maxDepth` and, when `readOwner`, reads
 * `repository.owner.login`, keeping only the path of the current value (O(depth) memory, no objects built: keys are
 * compared where they stand, not copied). It runs on bytes not yet verified, so it must cost no more than reading
 * them; JSON.parse, after the signature check, judges the rest of the syntax. Throws PayloadError on nesting too
 * deep or unbalanced brackets.
 */
export function scanPayload(text: string, maxDepth = MAX_PAYLOAD_DEPTH, readOwner = true): PayloadScan {
  // keys[d]: the key (an index into PATH_KEYS, or OTHER) under which the container at depth d+1 sits (OTHER in
  // arrays); kinds[d]: '{' or '['.
  const kinds: string[] = [];
  const keys: number[] = [];
  let key = OTHER;
  let expectKey = false;
  let owner: string | undefined;
  const length = text.length;
  for (let i = 0; i < length; i += 1) {
    const char = text.charCodeAt(i);
    if (char === 0x22 /* " */) {
      const end = stringEnd(text, i);
      const depth = kinds.length;
      if (expectKey) {
        // Only keys on the path to repository.owner.login are looked at; the rest are skipped.
        key = readOwner && depth <= 3 ? pathKey(text, i, end, depth - 1) : OTHER;
        expectKey = false;
      } else if (depth === 3 && key === 2 && keys[1] === 0 && keys[2] === 1) {
        owner = decode(text, i, end);
      }
      i = end;
    } else if (char === 0x7b /* { */ || char === 0x5b /* [ */) {
      if (kinds.length >= maxDepth) throw new PayloadError(`payload nests deeper than ${maxDepth} levels`);
      keys.push(kinds.at(-1) === '{' ? key : OTHER);
      kinds.push(char === 0x7b ? '{' : '[');
      key = OTHER;
      expectKey = char === 0x7b;
    } else if (char === 0x7d /* } */ || char === 0x5d /* ] */) {
      if (kinds.pop() !== (char === 0x7d ? '{' : '[')) throw new PayloadError('body is not valid JSON');
      keys.pop();
      key = OTHER;
      expectKey = false;
    } else if (char === 0x2c /* , */) {
      expectKey = kinds.at(-1) === '{';
      key = expectKey ? OTHER : key;
    }
  }
  return { owner };
}

/** Whether the key literal at [start, end] is the path's key at `level` (its index), else OTHER. */
function pathKey(text: string, start: number, end: number, level: number): number {
  const wanted = PATH_KEYS[level];
  if (wanted === undefined) return OTHER;
  let escaped = false;
  for (let at = start + 1; at < end; at += 1) {
    if (text.charCodeAt(at) === 0x5c /* \ */) {
      escaped = true;
      break;
    }
  }
  // A key written with escapes ("own\u0065r") is what JSON.parse reads it as.
  if (escaped) return decode(text, start, end) === wanted ? level : OTHER;
  return end - start - 1 === wanted.length && text.startsWith(wanted, start + 1) ? level : OTHER;
}

/** The index of the quote closing the string that opens at `start`. */
function stringEnd(text: string, start: number): number {
  let at = start;
  for (;;) {
    at = text.indexOf('"', at + 1);
    if (at < 0) throw new PayloadError('body is not valid JSON');
    let backslashes = 0;
    while (text.charCodeAt(at - 1 - backslashes) === 0x5c /* \ */) backslashes += 1;
    if (backslashes % 2 === 0) return at;
  }
}

/** The value of the JSON string literal at [start, end], escapes decoded as JSON.parse decodes them. */
function decode(text: string, start: number, end: number): string {
  const literal = text.slice(start, end + 1);
  if (!literal.includes('\\')) return literal.slice(1, -1);
  try {
    return JSON.parse(literal) as string;
  } catch {
    throw new PayloadError('body is not valid JSON');
  }
}
