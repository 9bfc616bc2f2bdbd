import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import type { Finding } from '../../api/v1alpha1/finding.js';
import { sortFindings } from '../../lib/findings.js';
import type { Manifest } from '../../node-agent/captures/bundle/manifest.js';
import type { CaptureAnalysis } from '../../node-agent/engine/capture.js';
import type { CaptureOutcome } from '../../node-agent/engine/run.js';
import { formatFolded } from '../../node-agent/flamegraph/folded.js';
import { renderFlameGraphSvg } from '../../node-agent/flamegraph/svg.js';
import { analyzeBundleManifest, analyzeKernelLogText, analyzeMemorySnapshot, analyzeProfile, analyzeSlabSnapshots } from './analyzers.js';
import { describeKind, detectInput, type InputKind } from './detect.js';
import type { Input, Skipped } from './inputs.js';

/** What became of one input. */
export interface InputReport {
  input: string;
  /** What it was recognized as. */
  format: string;
  /** The analysis (capture name) it went into, or undefined when skipped. */
  analysis?: string;
  skipped?: string;
}

export interface OfflineReport {
  inputs: InputReport[];
  captures: CaptureOutcome[];
  findings: Finding[];
  /** Files written (flame graphs, folded stacks). */
  written: string[];
}

export interface OfflineOptions {
  /** Where to write a flame graph (and folded stacks) of each profile; none when undefined. */
  flamegraphDir?: string;
  now?: Date;
}

/** Bundle items no offline analyzer reads by itself; they are kept for the bug report. */
const contextItems = new Set([
  'uname.txt',
  'proc-version.txt',
  'cmdline.txt',
  'tainted.txt',
  'kernel-config.txt',
  'modules.txt',
  'lscpu.txt',
  'lspci.txt',
  'ip-addr.txt',
  'ip-route.txt',
  'ss.txt',
  'sysctl.txt',
  'node-facts.json',
]);

const memoryKinds = ['buddyinfo', 'meminfo', 'vmstat', 'pagetypeinfo', 'zoneinfo'] as const;

interface Detected {
  input: Input;
  kind: InputKind;
}

function safeFileName(name: string): string {
  return (
    name
      .replace(/[^A-Za-z0-9._-]+/g, '_')
      .replace(/^_+/, '')
      .slice(-120) || 'input'
  );
}

/**
 * Runs every analyzer that works from recorded inputs on them: kernel logs in any pasted form,
 * slabinfo snapshots (grouped per folder or archive), perf script or folded stacks, the memory
 * files of one machine, and ksleuth bundles item by item. Says for each input what it was taken
 * for, which analysis it went into, or why it was skipped.
 */
export async function analyzeOffline(inputs: Input[], skippedInputs: Skipped[], options: OfflineOptions = {}): Promise<OfflineReport> {
  const now = (options.now ?? new Date()).toISOString();
  const reports: InputReport[] = skippedInputs.map((s) => ({ input: s.name, format: '-', skipped: s.reason }));
  const captures: CaptureOutcome[] = [];
  const written: string[] = [];
  const detected: Detected[] = inputs.map((input) => ({ input, kind: detectInput(input.text) }));

  const record = (name: string, kind: CaptureKind, run: () => CaptureAnalysis, used: Detected[]): void => {
    let outcome: CaptureOutcome;
    try {
      const analysis = run();
      outcome = {
        name,
        kind,
        state: 'Succeeded',
        startTime: now,
        completionTime: now,
        summary: analysis.summary,
        findings: analysis.findings.map((f) => ({ ...f, capture: name })),
        artifacts: [],
      };
    } catch (error) {
      outcome = {
        name,
        kind,
        state: 'Failed',
        reason: 'ParseFailed',
        message: (error as Error).message,
        startTime: now,
        completionTime: now,
        summary: {},
        findings: [],
        artifacts: [],
      };
    }
    captures.push(outcome);
    for (const d of used) reports.push({ input: d.input.name, format: kind === 'bundle' ? 'ksleuth bundle item' : describeKind(d.kind), analysis: name });
  };

  const groups = new Map<string, Detected[]>();
  for (const d of detected) groups.set(d.input.group, [...(groups.get(d.input.group) ?? []), d]);

  for (const [group, members] of groups) {
    const byFile = (file: string) => members.find((m) => m.input.file === file);
    const manifest = members.find((m) => m.kind.kind === 'bundle-manifest');
    const memTotalKb = (() => {
      const meminfo = members.find((m) => m.kind.kind === 'meminfo');
      const kb = meminfo ? /^MemTotal:\s+(\d+) kB$/m.exec(meminfo.input.text)?.[1] : undefined;
      return kb ? Number(kb) : undefined;
    })();
    const handled = new Set<Detected>();

    if (manifest) {
      const parsed = JSON.parse(manifest.input.text) as Manifest;
      const excerpts: Record<string, string> = {};
      for (const file of ['proc-version.txt', 'lscpu.txt', 'kernel-config.txt']) {
        const item = byFile(file);
        if (item) excerpts[file] = item.input.text;
      }
      const used = [manifest, ...Object.keys(excerpts).map((f) => byFile(f)!)];
      record(`bundle (${parsed.hostname})`, 'bundle', () => analyzeBundleManifest(parsed, excerpts), used);
      for (const d of used) handled.add(d);
      for (const entry of parsed.files.filter((f) => f.error !== undefined)) {
        const name = `${group}/${entry.file}`;
        const already = reports.find((r) => r.input === name);
        const why = `the bundle could not collect it: ${entry.error}`;
        if (already) already.skipped = why;
        else if (!byFile(entry.file)) reports.push({ input: name, format: '-', skipped: why });
      }
    }

    // Memory: one reading from this machine's buddyinfo and its companions.
    const memory = Object.fromEntries(
      memoryKinds.map((k) => [k, members.find((m) => m.kind.kind === k)] as const).filter(([, d]) => d !== undefined),
    ) as Partial<Record<(typeof memoryKinds)[number], Detected>>;
    if (memory.buddyinfo) {
      const config = byFile('kernel-config.txt');
      const sysctl = byFile('sysctl.txt');
      const used = Object.values(memory) as Detected[];
      record(
        `memory (${group || '.'})`,
        'memory',
        () =>
          analyzeMemorySnapshot({
            ...Object.fromEntries(Object.entries(memory).map(([k, d]) => [k, d!.input.text])),
            ...(config ? { kernelConfig: config.input.text } : {}),
            ...(sysctl ? { sysctl: sysctl.input.text } : {}),
          }),
        used,
      );
      for (const d of used) handled.add(d);
    }

    const slabs = members.filter((m) => m.kind.kind === 'slabinfo');
    if (slabs.length > 0) {
      record(
        `slab (${slabs.length === 1 ? slabs[0]!.input.name : `${slabs.length} snapshots in ${group || '.'}`})`,
        'slab',
        () =>
          analyzeSlabSnapshots(
            slabs.map((s) => s.input),
            memTotalKb,
          ),
        slabs,
      );
      for (const d of slabs) handled.add(d);
    }

    for (const d of members) {
      if (handled.has(d)) continue;
      const { kind, input } = d;
      if (kind.kind === 'kernel-log') {
        record(`kernel-log (${input.name})`, 'kernel-log', () => analyzeKernelLogText(input, kind.format), [d]);
      } else if (kind.kind === 'perf-script' || kind.kind === 'folded-stacks') {
        const name = `cpu-profile (${input.name})`;
        let stacks: ReturnType<typeof analyzeProfile>['stacks'] = [];
        record(
          name,
          'cpu-profile',
          () => {
            const result = analyzeProfile(input, kind.kind as 'perf-script' | 'folded-stacks');
            stacks = result.stacks;
            return result;
          },
          [d],
        );
        if (options.flamegraphDir && stacks.length > 0) {
          await mkdir(options.flamegraphDir, { recursive: true });
          const base = join(options.flamegraphDir, safeFileName(input.name));
          await writeFile(`${base}.svg`, renderFlameGraphSvg(stacks, { title: `CPU flame graph: ${input.name}`, subtitle: 'ksleuth analyze' }));
          await writeFile(`${base}.folded`, formatFolded(stacks));
          written.push(`${base}.svg`, `${base}.folded`);
        }
      } else if (manifest && contextItems.has(input.file)) {
        reports.push({ input: input.name, format: describeKind(kind), skipped: 'bundle context: no analyzer works from it alone (ksleuth report shows it)' });
      } else if (kind.kind === 'unknown') {
        reports.push({
          input: input.name,
          format: describeKind(kind),
          skipped: 'not recognized as a kernel log, /proc/slabinfo, perf script, folded stacks, a /proc memory file or a ksleuth bundle',
        });
      } else {
        reports.push({
          input: input.name,
          format: describeKind(kind),
          skipped: `${describeKind(kind)} alone: memory analysis needs /proc/buddyinfo of the same machine`,
        });
      }
    }
  }
  reports.sort((a, b) => a.input.localeCompare(b.input));
  return { inputs: reports, captures, findings: sortFindings(captures.flatMap((c) => c.findings)), written };
}
