import { buildBundle } from '../scripts/build.js';

/** The integration tests run the bundle that `npm start` runs; build it once per test run. */
export default async function setup(): Promise<void> {
  await buildBundle();
}
