import { defineConfig } from 'vitest/config';

/** `npm run test:faults`: the fault-injection run (see test/faults/faults.test.ts). */
export default defineConfig({
  test: {
    include: ['test/faults/**/*.test.ts'],
    globalSetup: ['test/faults/global-setup.ts'],
    // faults.test.ts and refused-version.test.ts each install the shipped admission policy, which binds
    // cluster-wide, and remove it at their end: run side by side, one's removal would pull the policy from under
    // the other (or time out the other's wait for it to be in force).
    fileParallelism: false,
    testTimeout: 600_000,
    hookTimeout: 3_600_000,
  },
});
