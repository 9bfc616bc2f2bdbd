import type { Reporter, TestModule } from 'vitest/node';

/** Prints one closing line for the whole run, after vitest's own report. */
export default class SummaryReporter implements Reporter {
  private started = Date.now();

  onTestRunStart(): void {
    this.started = Date.now();
  }

  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<unknown>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    let failedFiles = 0;
    for (const module of testModules) {
      if (module.state() === 'failed') failedFiles++;
      for (const test of module.children.allTests()) {
        const state = test.result().state;
        if (state === 'passed') counts.passed++;
        else if (state === 'failed') counts.failed++;
        else counts.skipped++;
      }
    }
    const seconds = ((Date.now() - this.started) / 1000).toFixed(0);
    const ok = counts.failed === 0 && failedFiles === 0 && unhandledErrors.length === 0;
    console.log(
      `\nksleuth tests ${ok ? 'PASSED' : 'FAILED'}: ${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped ` +
        `in ${testModules.length} files (${failedFiles} failed files, ${unhandledErrors.length} unhandled errors), ${seconds}s`,
    );
  }
}
