import { fileURLToPath } from 'node:url';

const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
/** The process entry: `node dist/start.cjs`. */
export const OUTFILE = dist('start.cjs');
/**
 * The V8 flags the entry runs with (`node <flags> dist/start.cjs`: the image's ENTRYPOINT, `npm start`, the bench).
 * Node.js 24 sizes the young generation from the machine's memory, up to 64 MiB per semi-space: on a large host a
 * function doing a few MiB of short-lived work per second held 215-245 MiB RSS after 10,000 deliveries, growing,
 * against 105-110 MiB on Node.js 20 (`npm run bench`). 2 MiB semi-spaces keep it within the Service's memory
 * request whatever the host, at no measurable CPU cost (docs/performance.md).
 */
export const NODE_FLAGS = ['--max-semi-space-size=2'] as const;
/**
 * The environment the image sets for the entry. glibc gives each thread that allocates its own malloc arena (up to
 * 8 per core); Node.js 24's GC and libuv threads then hold about 20 MiB more RSS than 2 arenas do, for the same
 * work (124 against 145 MiB after 10,000 deliveries, `npm run bench`).
 */
export const ENTRY_ENV = { MALLOC_ARENA_MAX: '2' } as const;
/** The bundled function that the entry loads through the V8 code cache. */
export const BUNDLE = dist('webhook.cjs');
/** The doctor (`node dist/doctor.cjs`): checks the cluster, GitHub and the webhooks with the function's settings. */
export const DOCTOR = dist('doctor.cjs');
