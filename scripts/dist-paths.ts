import { fileURLToPath } from 'node:url';

const dist = (file: string) => fileURLToPath(new URL(`../dist/${file}`, import.meta.url));
/** The process entry: `node dist/start.cjs`. */
export const OUTFILE = dist('start.cjs');
/** The bundled function that the entry loads through the V8 code cache. */
export const BUNDLE = dist('webhook.cjs');
/** The doctor (`node dist/doctor.cjs`): checks the cluster, GitHub and the webhooks with the function's settings. */
export const DOCTOR = dist('doctor.cjs');
