import type { Manifest, ManifestEntry } from './manifest.js';

/** What run() returns: the manifest, the archive size, and the small files the summary reads. */
export interface BundleRaw {
  manifest: Manifest;
  archiveBytes: number;
  /** Text of proc-version.txt, lscpu.txt and kernel-config.txt, when collected. */
  excerpts: Record<string, string>;
}

/** lscpu's "Name:   value" lines. */
export function parseLscpu(text: string): Record<string, string> {
  const fields: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields[line.slice(0, colon).trim()] = line.slice(colon + 1).trim();
  }
  return fields;
}

/** A kernel .config: CONFIG_X=value lines, and "# CONFIG_X is not set" as "n". */
export function parseKernelConfig(text: string): Record<string, string> {
  const options: Record<string, string> = {};
  for (const line of text.split('\n')) {
    const set = /^(CONFIG_\w+)=(.*)$/.exec(line);
    if (set) options[set[1]!] = set[2]!.replace(/^"(.*)"$/, '$1');
    const unset = /^# (CONFIG_\w+) is not set$/.exec(line);
    if (unset) options[unset[1]!] = 'n';
  }
  return options;
}

export interface KernelHighlights {
  /** none, voluntary, full, lazy or rt, with "(dynamic)" when it can be changed at boot. */
  preemption?: string;
  hz?: number;
  btf: boolean;
  kprobes: boolean;
  functionGraphTracer: boolean;
  /** Debugging options that slow the kernel down or change its behaviour. */
  debugOptions: string[];
}

const debugOptions = ['KASAN', 'KFENCE', 'KCSAN', 'LOCKDEP', 'PROVE_LOCKING', 'DEBUG_PAGEALLOC', 'SLUB_DEBUG_ON', 'DEBUG_OBJECTS', 'UBSAN'];

export function kernelHighlights(config: Record<string, string>): KernelHighlights {
  const on = (name: string): boolean => config[`CONFIG_${name}`] === 'y';
  const model = on('PREEMPT_RT')
    ? 'rt'
    : on('PREEMPT')
      ? 'full'
      : on('PREEMPT_LAZY')
        ? 'lazy'
        : on('PREEMPT_VOLUNTARY')
          ? 'voluntary'
          : on('PREEMPT_NONE')
            ? 'none'
            : undefined;
  const hz = Number(config.CONFIG_HZ);
  return {
    ...(model ? { preemption: on('PREEMPT_DYNAMIC') ? `${model} (dynamic)` : model } : {}),
    ...(Number.isFinite(hz) && hz > 0 ? { hz } : {}),
    btf: on('DEBUG_INFO_BTF'),
    kprobes: on('KPROBES'),
    functionGraphTracer: on('FUNCTION_GRAPH_TRACER'),
    debugOptions: debugOptions.filter(on),
  };
}

export interface ParsedBundle {
  files: ManifestEntry[];
  totalBytes: number;
  archiveBytes: number;
  kernelRelease: string;
  /** The first line of /proc/version. */
  kernelVersion?: string;
  cpu: Record<string, string>;
  kernel?: KernelHighlights;
}

export function parseBundle(raw: BundleRaw): ParsedBundle {
  const version = raw.excerpts['proc-version.txt']?.split('\n')[0]?.trim();
  const config = raw.excerpts['kernel-config.txt'];
  return {
    files: raw.manifest.files,
    totalBytes: raw.manifest.files.reduce((sum, f) => sum + f.sizeBytes, 0),
    archiveBytes: raw.archiveBytes,
    kernelRelease: raw.manifest.kernelRelease,
    ...(version ? { kernelVersion: version } : {}),
    cpu: parseLscpu(raw.excerpts['lscpu.txt'] ?? ''),
    ...(config ? { kernel: kernelHighlights(parseKernelConfig(config)) } : {}),
  };
}
