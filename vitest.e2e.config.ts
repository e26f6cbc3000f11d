import { defineConfig } from 'vitest/config';

/** `npm run test:e2e`: the real function process against a real Kubernetes control plane (kwok binary runtime). */
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 120_000,
    hookTimeout: 3_600_000,
  },
});
