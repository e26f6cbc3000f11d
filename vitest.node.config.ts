import { defineConfig } from 'vitest/config';

/**
 * `npm run test:node`: pods started for real, by a kubelet, containerd and runc on a node of this machine
 * (scripts/node/) joined to the end-to-end control plane.
 */
export default defineConfig({
  test: {
    include: ['test/node/**/*.test.ts'],
    globalSetup: ['test/node/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 180_000,
    hookTimeout: 3_600_000,
  },
});
