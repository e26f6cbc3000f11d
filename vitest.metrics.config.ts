import { defineConfig } from 'vitest/config';

/**
 * `npm run test:metrics`: the metrics proof with real components (the built function as 30 short-lived processes,
 * a statsd_exporter built from its Go module, Debian's Prometheus), and the monitors held to Knative's port
 * contract read from Knative Serving's own source. Run by .ci/run after the end-to-end suite.
 */
export default defineConfig({
  test: {
    include: ['test/metrics/**/*.proof.ts'],
    globalSetup: ['test/metrics/proof-setup.ts'],
    fileParallelism: false,
    testTimeout: 300_000,
    hookTimeout: 600_000,
  },
});
