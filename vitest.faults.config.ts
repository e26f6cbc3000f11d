import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: the fault-injection run (see test/faults/faults.test.ts). */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global-setup.ts'],
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
  },
});
