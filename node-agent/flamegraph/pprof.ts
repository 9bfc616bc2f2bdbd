import { gzipSync } from 'node:zlib';
import { displayName, frameKind, type FrameKind } from './frame-kind.js';
import type { FoldedStack } from './folded.js';
import { ProtobufWriter } from './protobuf-writer.js';

/*
 * Folded stacks as a pprof profile (github.com/google/pprof proto/profile.proto), the format
 * `go tool pprof`, Parca, Pyroscope and Cloud Profiler read. Every distinct frame is a function
 * with one location; kernel and JIT frames keep their kind as the function's file name and a
 * mapping of their own. Each sample carries the process (the stack's root) as a "comm" label.
 */

export type PprofCounts =
  /** Counts are samples taken every `periodNanos` of CPU time (perf -e cpu-clock -F hz). */
  | { kind: 'cpu-samples'; periodNanos: number }
  /** Counts are CPU nanoseconds (perf script printed cpu-clock periods). */
  | { kind: 'cpu-nanoseconds' }
  /** Counts are plain sample counts. */
  | { kind: 'samples' };

export interface PprofOptions {
  counts: PprofCounts;
  /** What was profiled ("node-1, all CPUs"): pprof shows it as the profile's main file. */
  name?: string;
  /** When the profile started and how long it ran. */
  start?: Date;
  durationNanos?: number;
  comments?: string[];
}

/** profile.proto field numbers. */
const Profile = {
  sampleType: 1,
  sample: 2,
  mapping: 3,
  location: 4,
  function: 5,
  stringTable: 6,
  timeNanos: 9,
  durationNanos: 10,
  periodType: 11,
  period: 12,
  comment: 13,
};
const Sample = { locationId: 1, value: 2, label: 3 };
const Label = { key: 1, str: 2 };
const ValueType = { type: 1, unit: 2 };
const Mapping = { id: 1, filename: 5, hasFunctions: 7 };
const Location = { id: 1, mappingId: 2, line: 4 };
const Line = { functionId: 1 };
const FunctionField = { id: 1, name: 2, systemName: 3, filename: 4 };

const mappingFiles: Record<FrameKind | 'process', string> = {
  kernel: '[kernel.kallsyms]',
  jit: '[jit]',
  inlined: '[inlined]',
  user: '[user]',
  process: '[process]',
};

class StringTable {
  readonly strings = [''];
  private readonly index = new Map<string, number>([['', 0]]);

  id(text: string): number {
    let id = this.index.get(text);
    if (id === undefined) {
      id = this.strings.push(text) - 1;
      this.index.set(text, id);
    }
    return id;
  }
}

/** The profile as protobuf bytes (gzip them for a .pb.gz file: `pprofGzip`). */
export function toPprof(stacks: FoldedStack[], options: PprofOptions): Buffer {
  const strings = new StringTable();
  const out = new ProtobufWriter();
  const counts = options.counts;
  const valueTypes: [string, string][] =
    counts.kind === 'cpu-samples'
      ? [
          ['samples', 'count'],
          ['cpu', 'nanoseconds'],
        ]
      : counts.kind === 'cpu-nanoseconds'
        ? [['cpu', 'nanoseconds']]
        : [['samples', 'count']];
  for (const [type, unit] of valueTypes)
    out.message(Profile.sampleType, (m) => m.uint(ValueType.type, strings.id(type)).uint(ValueType.unit, strings.id(unit)));

  // The processes' mapping comes first: pprof shows the first mapping's file as the profile's.
  const mappings = new Map<FrameKind | 'process', number>([['process', 1]]);
  const fileOf = (kind: FrameKind | 'process'): string => (kind === 'process' ? (options.name ?? mappingFiles.process) : mappingFiles[kind]);
  const locations = new Map<string, number>();
  const commKey = strings.id('comm');
  const locationOf = (raw: string, isProcess: boolean): number => {
    const key = isProcess ? `\0${raw}` : raw;
    let id = locations.get(key);
    if (id !== undefined) return id;
    id = locations.size + 1;
    locations.set(key, id);
    const kind = isProcess ? 'process' : frameKind(raw);
    let mapping = mappings.get(kind);
    if (mapping === undefined) {
      mapping = mappings.size + 1;
      mappings.set(kind, mapping);
    }
    const name = strings.id(isProcess ? raw : displayName(raw));
    const file = strings.id(fileOf(kind));
    const functionId = id;
    out.message(Profile.function, (m) =>
      m.uint(FunctionField.id, functionId).uint(FunctionField.name, name).uint(FunctionField.systemName, name).uint(FunctionField.filename, file),
    );
    out.message(Profile.location, (m) =>
      m
        .uint(Location.id, functionId)
        .uint(Location.mappingId, mapping)
        .message(Location.line, (l) => l.uint(Line.functionId, functionId)),
    );
    return id;
  };

  for (const stack of stacks) {
    if (!(stack.count > 0) || stack.frames.length === 0) continue;
    const leafFirst: number[] = [];
    for (let i = stack.frames.length - 1; i >= 0; i--) leafFirst.push(locationOf(stack.frames[i]!, i === 0));
    const count = Math.round(stack.count);
    const values = counts.kind === 'cpu-samples' ? [count, Math.round(count * counts.periodNanos)] : [count];
    const comm = strings.id(stack.frames[0]!);
    out.message(Profile.sample, (m) =>
      m
        .packed(Sample.locationId, leafFirst)
        .packed(Sample.value, values)
        .message(Sample.label, (l) => l.uint(Label.key, commKey).uint(Label.str, comm)),
    );
  }
  for (const [kind, id] of mappings) {
    const file = strings.id(fileOf(kind));
    out.message(Profile.mapping, (m) => m.uint(Mapping.id, id).uint(Mapping.filename, file).uint(Mapping.hasFunctions, 1));
  }
  if (options.start) out.uint(Profile.timeNanos, BigInt(options.start.getTime()) * 1_000_000n);
  if (options.durationNanos) out.uint(Profile.durationNanos, Math.round(options.durationNanos));
  const [periodType, periodUnit] = valueTypes[valueTypes.length - 1]!;
  out.message(Profile.periodType, (m) => m.uint(ValueType.type, strings.id(periodType)).uint(ValueType.unit, strings.id(periodUnit)));
  if (counts.kind === 'cpu-samples') out.uint(Profile.period, Math.round(counts.periodNanos));
  const comments = (options.comments ?? []).map((c) => strings.id(c));
  if (comments.length) out.packed(Profile.comment, comments);
  for (const text of strings.strings) out.bytes(Profile.stringTable, text);
  return out.finish();
}

/** The profile gzipped, as pprof files (profile.pb.gz) are. */
export function pprofGzip(stacks: FoldedStack[], options: PprofOptions): Buffer {
  return gzipSync(toPprof(stacks, options));
}
