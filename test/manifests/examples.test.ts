import { describe, expect, it } from 'vitest';
import { resolveCaptureEntry } from '../../api/v1alpha1/capture-entry.js';
import type { CaptureParams } from '../../api/v1alpha1/captures.js';
import { investigationSpec } from '../../api/v1alpha1/investigation.js';
import { mitigationSpec } from '../../api/v1alpha1/mitigation.js';
import { loadAllowList } from '../../lib/sysctl/allowlist-load.js';
import { checkSysctl } from '../../lib/sysctl/check.js';
import { unpairedEvents } from '../../node-agent/captures/ftrace/event-pairs.js';
import { exampleFiles, readmeExamples } from './example-docs.js';

const shown = [...exampleFiles(), ...readmeExamples()];

describe('the examples users copy (manifests/examples, README.md)', () => {
  it('are found: every example file and the README’s investigation', () => {
    expect(shown.filter((e) => e.source.startsWith('manifests/')).length).toBeGreaterThanOrEqual(7);
    expect(shown.some((e) => e.source.startsWith('README.md') && e.kind === 'KernelInvestigation')).toBe(true);
  });

  it('trace both ends of every event pair they name, so the ftrace capture can measure its latency', () => {
    const halves = shown
      .filter((e) => e.kind === 'KernelInvestigation')
      .flatMap((e) =>
        investigationSpec
          .parse(e.spec)
          .captures.map(resolveCaptureEntry)
          .flatMap((c) => {
            const params = c.params as CaptureParams<'ftrace'>;
            return c.kind === 'ftrace' && params.mode === 'events' ? unpairedEvents(params.events ?? []) : [];
          })
          .map((problem) => `${e.source} (${e.name}): ${problem}`),
      );
    expect(halves).toEqual([]);
  });

  it('set only values the allow-list allows, in the spelling the agent writes', async () => {
    const allowList = await loadAllowList();
    const refusals = shown
      .filter((e) => e.kind === 'KernelMitigation')
      .flatMap((e) => mitigationSpec.parse(e.spec).sysctls.map((s) => ({ source: e.source, s, check: checkSysctl(allowList, s.name, s.value) })))
      .flatMap(({ source, s, check }) =>
        check.ok && check.value === s.value ? [] : [`${source}: ${s.name}=${s.value}: ${check.ok ? `write ${check.value}` : check.reason}`],
      );
    expect(refusals).toEqual([]);
  });
});
