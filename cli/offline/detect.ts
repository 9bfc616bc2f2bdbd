import { detectKernelLogFormat, type KernelLogFormat, kernelLogFormats } from '../../node-agent/captures/kernel-log/log-text.js';
import { detectStackInput } from '../../node-agent/flamegraph/input-format.js';

/** What an input holds, as far as offline analysis is concerned. */
export type InputKind =
  | { kind: 'kernel-log'; format: KernelLogFormat }
  | { kind: 'slabinfo' }
  | { kind: 'perf-script' }
  | { kind: 'folded-stacks' }
  | { kind: 'bundle-manifest' }
  | { kind: 'meminfo' }
  | { kind: 'buddyinfo' }
  | { kind: 'vmstat' }
  | { kind: 'pagetypeinfo' }
  | { kind: 'zoneinfo' }
  | { kind: 'unknown' };

/** A perf script sample header ("comm pid [cpu] time: event:") followed by an indented frame ("ffffffff81000000 sym (dso)"). */
const perfFrame = /^\s+[0-9a-f]{4,16}\s+\S.*\(.*\)\s*$/m;
const perfHeader = /^\S.*?\s+\d+(?:\/\d+)?\s+(?:\[\d+\]\s+)?\d+\.\d+:\s+(?:\d+\s+)?\S+:/m;

function isManifest(text: string): boolean {
  if (!text.trimStart().startsWith('{')) return false;
  try {
    const doc = JSON.parse(text) as { files?: unknown; kernelRelease?: unknown; ksleuthVersion?: unknown };
    return Array.isArray(doc.files) && typeof doc.kernelRelease === 'string' && typeof doc.ksleuthVersion === 'string';
  } catch {
    return false;
  }
}

/** Tells what a text is from its content (the first 64 KiB), not its name. */
export function detectInput(text: string): InputKind {
  const head = text.slice(0, 64 * 1024);
  if (/^slabinfo - version: \d+\.\d+/.test(head)) return { kind: 'slabinfo' };
  if (isManifest(text)) return { kind: 'bundle-manifest' };
  if (/^MemTotal:\s+\d+ kB$/m.test(head) && /^MemFree:/m.test(head)) return { kind: 'meminfo' };
  if (/^Node \d+, zone\s+\S+\s+(?:\d+\s+){10}\d+\s*$/m.test(head) && !/type\s+Unmovable/.test(head) && !/pages free/.test(head)) return { kind: 'buddyinfo' };
  if (/^Page block order: \d+/m.test(head)) return { kind: 'pagetypeinfo' };
  if (/^Node \d+, zone\s+\S+\n\s+per-node stats|^\s+pages free\s+\d+/m.test(head)) return { kind: 'zoneinfo' };
  if (/^nr_free_pages \d+$/m.test(head) && /^pgfault \d+$/m.test(head)) return { kind: 'vmstat' };
  if (perfHeader.test(head) && perfFrame.test(head)) return { kind: 'perf-script' };
  if (head.includes(';') && detectStackInput(head.endsWith('\n') ? head : `${head}\n`) === 'folded') return { kind: 'folded-stacks' };
  const format = detectKernelLogFormat(head);
  if (format) return { kind: 'kernel-log', format };
  return { kind: 'unknown' };
}

/** The kind in words, for the INPUTS table. */
export function describeKind(kind: InputKind): string {
  switch (kind.kind) {
    case 'kernel-log':
      return `kernel log: ${kernelLogFormats[kind.format]}`;
    case 'slabinfo':
      return '/proc/slabinfo';
    case 'perf-script':
      return 'perf script output';
    case 'folded-stacks':
      return 'folded stacks';
    case 'bundle-manifest':
      return 'ksleuth bundle manifest';
    case 'unknown':
      return 'not recognized';
    default:
      return `/proc/${kind.kind}`;
  }
}
