import { parseArgs } from 'node:util';
import { UsageError, type Command } from '../command.js';
import type { OfflineReport } from '../offline/analyze.js';
import { captureJson, renderCaptures, renderFindings } from '../report.js';
import { table } from '../table.js';

const usage = `Analyze recorded kernel data offline: the same analyzers and findings as a live capture.

  ksleuth analyze [--json] [--flamegraph DIR] PATH|-

PATH is a file, a directory (every file under it), or a ksleuth bundle (the bundle capture's
bundle.tar.gz, or its unpacked folder); "-" reads standard input. Each input is recognized by its
content:
  kernel logs        dmesg (plain, -T, -x, -r, --time-format iso), journalctl -k (short,
                     short-precise, short-iso, short-monotonic), syslog and /var/log/messages
                     lines with a "kernel:" tag, serial consoles (with [T123] caller ids or not),
                     raw /dev/kmsg records
  /proc/slabinfo     one snapshot shows the largest caches; two or more taken apart (in one
                     folder, ordered by modification time) show growth; three make a finding
  perf script        kernel CPU hotspots (also folded stacks)
  /proc memory files buddyinfo with meminfo, vmstat, pagetypeinfo, zoneinfo of one machine
  ksleuth bundles    every item that an analyzer reads
The output says which analyzer ran on what, and what was skipped and why.

  --json             print the report as JSON (inputs, captures, findings)
  --flamegraph DIR   write a flame graph (SVG) and folded stacks of each perf script input to DIR

Exit codes: 0 the inputs were analyzed (with or without findings); 1 nothing could be analyzed
(a path that cannot be read, an empty or binary file, nothing recognized); 2 wrong usage.`;

function render(report: OfflineReport): string {
  const lines = [renderFindings(report.findings)];
  if (report.captures.length > 0) lines.push('', renderCaptures(report.captures));
  lines.push(
    '',
    'INPUTS',
    table(
      ['input', 'recognized as', 'analysis'],
      report.inputs.map((i) => [i.input, i.format, i.analysis ?? `skipped: ${i.skipped}`]),
    ),
  );
  if (report.written.length > 0) lines.push('', `Written: ${report.written.join(', ')}`);
  return lines.join('\n');
}

function json(report: OfflineReport): object {
  return {
    inputs: report.inputs,
    captures: report.captures.map(captureJson),
    findings: report.findings,
    written: report.written,
  };
}

export const analyze: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { json: { type: 'boolean', default: false }, flamegraph: { type: 'string' } },
      allowPositionals: true,
      strict: true,
    });
    if (positionals.length !== 1) throw new UsageError(positionals.length === 0 ? 'give a PATH, or "-" for standard input' : 'give one PATH');
    const path = positionals[0]!;
    if (path === '-' && process.stdin.isTTY) throw new UsageError('"-" reads standard input: pipe a kernel log, slabinfo or perf script output in');
    // Loaded here, not at start: the analyzers are most of the CLI's code.
    const { InputError, readInputs } = await import('../offline/inputs.js');
    const { analyzeOffline } = await import('../offline/analyze.js');
    let read: Awaited<ReturnType<typeof readInputs>>;
    try {
      read = await readInputs(path);
    } catch (error) {
      if (error instanceof InputError) {
        console.error(`ksleuth analyze: ${error.message}`);
        return 1;
      }
      throw error;
    }
    const report = await analyzeOffline(read.inputs, read.skipped, values.flamegraph ? { flamegraphDir: values.flamegraph } : {});
    console.log(values.json ? JSON.stringify(json(report), null, 2) : render(report));
    if (report.captures.length === 0) {
      console.error(`ksleuth analyze: nothing in ${path === '-' ? 'standard input' : path} could be analyzed (see INPUTS for why)`);
      return 1;
    }
    return report.captures.every((c) => c.state === 'Failed') ? 1 : 0;
  },
};
