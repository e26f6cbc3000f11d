import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/faults/**', 'test/node/**'],
    globalSetup: ['test/global-setup.ts'],
    // Removes the temp directories each test file made (test/support/temp-dir.ts).
    setupFiles: ['test/support/remove-temp-dirs.ts'],
    testTimeout: 20_000,
    hookTimeout: 30_000,
    coverage: {
      provider: 'v8',
      include: ['shared/**', 'functions/**'],
      reporter: ['text-summary'],
    },
  },
});
