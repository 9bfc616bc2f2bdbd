import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    pool: 'forks',
    // Integration suites each start their own control plane; two cores run two at a time well
    // (three made timing in the end-to-end suites flaky).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/summary-reporter.ts'],
  },
});
