import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    exclude: ['test/e2e/**', 'test/faults/**', 'test/node/**'],
    globalSetup: ['test/global-setup.ts'],
    // Removes the temp directories each test file made (test/support/temp-dir.ts).
    setupFiles: ['test/support/remove-temp-dirs.ts'],
    // Two files at a time, even on two cores: most of these tests wait on sockets, child processes and timers
    // (the run spends about a third of its wall time on CPU), and Vitest's default (cores - 1) runs one file
    // at a time. Measured on 2 cores: 125 s one at a time, 83 s two at a time.
    maxWorkers: 2,
    testTimeout: 20_000,
    hookTimeout: 30_000,
    coverage: {
      provider: 'v8',
      include: ['shared/**', 'functions/**'],
      reporter: ['text-summary'],
    },
  },
});
