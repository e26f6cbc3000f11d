import { fileURLToPath } from 'node:url';

const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
/** The process entry: `node dist/start.cjs`. */
export const OUTFILE = dist('start.cjs');
/** The bundled function that the entry loads through the V8 code cache. */
export const BUNDLE = dist('webhook.cjs');
