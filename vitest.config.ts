import { defineConfig } from 'vitest/config';
import { type Lane, lanes, unitLane } from './test/lanes.js';

function project(lane: Lane, exclude: string[] = []) {
  return {
    extends: true as const,
    test: {
      name: lane.name,
      include: lane.include,
      exclude,
      ...(lane.shareModules ? { isolate: false } : {}),
      ...(lane.serial ? { fileParallelism: false, sequence: { groupOrder: 1 } } : { sequence: { groupOrder: 0 } }),
    },
  };
}

export default defineConfig({
  test: {
    pool: 'forks',
    // Integration suites each start their own control plane; two cores run two at a time well
    // (three made timing in the end-to-end suites flaky).
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 300_000,
    reporters: ['default', './test/summary-reporter.ts'],
    // test/lanes.ts: one project per lane; `unit` is every file no other lane claims.
    projects: [
      project(
        unitLane,
        lanes.flatMap((lane) => lane.include),
      ),
      ...lanes.map((lane) => project(lane)),
    ],
  },
});
