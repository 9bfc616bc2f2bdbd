import { frameMarks, type CollapseOptions } from './collapse-options.js';
import { absent, ByteKeyTable, hashBytes, hashFrameLine } from './byte-key-table.js';
import { matchEvent, matchFrame, matchHeader, type EventSpans, type HeaderSpans } from './perf-script-lines.js';
import { parseWeight, SampleCounter } from './sample-counter.js';
import { StackTrie } from './stack-trie.js';

/*
 * `perf script` text -> folded stacks ("proc;root;...;leaf count"), with the output of
 * stackcollapse-perf.pl byte for byte. Lines are byte strings (latin1: one char per byte), so
 * sorting and every character class work on bytes as Perl does on undecoded input. The patterns
 * spell whitespace out because Perl's \s on bytes is ASCII only, where JavaScript's also matches
 * U+00A0; the `s` flag makes `.` match \r as Perl's does.
 */

/** Go methods ("net/http.(*Client).Do") keep their parentheses; other names lose argument lists. */
const goMethod = /\.\(.*\)\./s;
const argumentList = /\((?!anonymous namespace\)).*/s;
const quotes = /["']/g;
const needsTidying = /[;("']/;
const jitModule = /\/tmp\/perf-\d+\.map/;

/** A frame line's meaning, cached by its text: a frame id, several (inlined), or one of these. */
const skipFrame = -1;
const unrecognized = -2;
/** Values at or below this index `inlinedGroups`. */
const firstGroup = -3;
/** Frame lines remembered at most; past it lines are still read, only not cached. */
const maxCachedLines = 1 << 18;

/** The samples of one process (a comm and a pid) whose stacks ended in one leaf frame. */
export interface ProcessLeaf {
  comm: string;
  /** Undefined when the header had no pid (perf script's default fields). */
  pid?: number;
  /** The leaf frame as the folded stacks name it (with its "_[k]" mark); "" for a sample without frames. */
  leaf: string;
  samples: number;
}

/** What the input held besides stacks, for a note to the user. */
export interface CollapseReport {
  /** The event whose samples were kept. */
  event?: string;
  /** Samples of other events that were skipped. */
  skippedSamples: number;
  /** Kept samples whose header carried a period, summed as their weight instead of counting 1. */
  weightedSamples: number;
  /** Lines that are neither a sample header, a frame, a comment nor blank. */
  unrecognizedLines: number;
  firstUnrecognizedLine?: string;
}

/**
 * Folds `perf script` samples into stacks, one line at a time: memory grows with the number of
 * distinct stacks and frame lines, never with the input. Each distinct frame line is parsed
 * once (its frames are cached by the line's text) and each sample is added to a trie of frame
 * ids, so the stack strings are built once per distinct stack, at the end.
 */
export class PerfScriptCollapser {
  private readonly trie = new StackTrie();
  private readonly withPid: boolean;
  private readonly withTid: boolean;
  private readonly markKernel: boolean;
  private readonly markJit: boolean;
  private readonly withAddresses: boolean;
  private eventFilter: string;
  /** With processLeaves: samples by process (an index into processIds) and then by leaf frame id (-1: none). */
  private readonly leafTally?: Map<number, number>[];
  /** With processLeaves: the "comm pid" of each header, by the index the header cache holds. */
  private readonly processIds: { comm: string; pid?: number; process: number }[] = [];
  private readonly processIndexes = new Map<string, number>();

  /** Frame names (and process names) by id, and ids by name. */
  private readonly names: string[] = [];
  private readonly ids = new Map<string, number>();
  /** Frame lines already read, by their bytes; Java processes tidy names their own way. */
  private readonly lines = new ByteKeyTable(maxCachedLines);
  private readonly javaLines = new ByteKeyTable(maxCachedLines);
  private readonly inlinedGroups: number[][] = [];
  /** Processes by the "comm pid/tid" bytes of their headers, and events by name. */
  private readonly processes = new ByteKeyTable(maxCachedLines);
  private readonly events = new ByteKeyTable(1024);
  private readonly eventNames: string[] = [];
  private readonly header: HeaderSpans = { commEnd: 0, pidStart: 0, pidEnd: 0, tidStart: 0, tidEnd: 0 };
  private readonly eventSpans: EventSpans = { eventStart: 0, eventEnd: 0, periodStart: 0, periodEnd: 0 };

  /** The sample being read: its process (-1 between samples), weight and frame ids, leaf first. */
  private process = -1;
  /** Its comm and pid (an index into processIds), with processLeaves. */
  private processWithPid = -1;
  private isJava = false;
  private weight: number | bigint = 1;
  private leafFirst = new Int32Array(512);
  private depth = 0;
  private folded?: Map<string, number | bigint>;

  readonly report: CollapseReport = { skippedSamples: 0, weightedSamples: 0, unrecognizedLines: 0 };

  constructor(options: CollapseOptions = {}) {
    this.withPid = options.pid ?? false;
    this.withTid = options.tid ?? false;
    this.markKernel = (options.kernel ?? false) || (options.all ?? false);
    this.markJit = (options.jit ?? false) || (options.all ?? false);
    this.withAddresses = options.addrs ?? false;
    this.eventFilter = options.eventFilter ?? '';
    if (options.processLeaves) this.leafTally = [];
  }

  /** With the processLeaves option: each process's samples by leaf frame, in no particular order. */
  processLeaves(): ProcessLeaf[] {
    if (!this.leafTally) throw new Error('processLeaves() needs the processLeaves option');
    const found: ProcessLeaf[] = [];
    for (const [index, leaves] of this.leafTally.entries()) {
      if (!leaves) continue;
      const { comm, pid } = this.processIds[index]!;
      for (const [leaf, samples] of leaves) found.push({ comm, ...(pid === undefined ? {} : { pid }), leaf: leaf < 0 ? '' : this.names[leaf]!, samples });
    }
    return found;
  }

  /** Reads one line, without its newline, as a byte string. */
  line(text: string): void {
    const bytes = Buffer.from(text, 'latin1');
    this.lineBytes(bytes, 0, bytes.length);
  }

  /** Reads the line bytes[start, end), without its newline: the way streams are read. */
  lineBytes(bytes: Buffer, start: number, end: number): void {
    if (start === end) {
      this.endSample();
      return;
    }
    const first = bytes[start]!;
    if (first === 0x23 /* # */) return;
    // A header starts with a non-blank; a frame line usually does not, so try the cheap test first.
    if (!isBlank(first)) {
      if (matchHeader(bytes, start, end, this.header)) {
        this.startSample(bytes, start, end);
        return;
      }
      const text = bytes.toString('latin1', start, end);
      this.frameMeaning(this.readFrameLine(text), text);
      return;
    }
    const hash = hashFrameLine(bytes, start, end);
    const lines = this.isJava ? this.javaLines : this.lines;
    let meaning = lines.get(bytes, start, end, hash);
    if (meaning === absent) {
      meaning = this.readFrameLine(bytes.toString('latin1', start, end));
      if (!lines.full) lines.set(bytes, start, end, hash, meaning);
    }
    if (meaning === unrecognized) this.frameMeaning(meaning, bytes.toString('latin1', start, end));
    else this.frameMeaning(meaning, '');
  }

  private frameMeaning(meaning: number, text: string): void {
    if (meaning === unrecognized) {
      this.report.unrecognizedLines++;
      this.report.firstUnrecognizedLine ??= text.slice(0, 200);
      return;
    }
    if (this.process < 0 || meaning === skipFrame) return;
    if (meaning >= 0) this.push(meaning);
    else for (const id of this.inlinedGroups[firstGroup - meaning]!) this.push(id);
  }

  /** The distinct stacks and their summed weights. */
  get stacks(): ReadonlyMap<string, number | bigint> {
    if (this.folded) return this.folded;
    // Different paths can spell the same stack (a comm with ";" in it): add them up as Perl's hash does.
    const counts = new SampleCounter();
    for (const { frames, weight } of this.trie.weighted()) {
      let stack = this.names[frames[0]!]!;
      for (let i = 1; i < frames.length; i++) stack += `;${this.names[frames[i]!]!}`;
      counts.add(stack, weight);
    }
    this.folded = counts.entries;
    return this.folded;
  }

  /** The folded output: one "stack count" line per distinct stack, sorted bytewise. */
  *foldedLines(): Generator<string> {
    const stacks = this.stacks;
    for (const stack of [...stacks.keys()].sort()) yield `${stack} ${stacks.get(stack)!.toString()}\n`;
  }

  foldedText(): string {
    let text = '';
    for (const line of this.foldedLines()) text += line;
    return text;
  }

  private push(id: number): void {
    if (this.depth === this.leafFirst.length) {
      const deeper = new Int32Array(this.depth * 2);
      deeper.set(this.leafFirst);
      this.leafFirst = deeper;
    }
    this.leafFirst[this.depth++] = id;
  }

  private intern(name: string): number {
    let id = this.ids.get(name);
    if (id === undefined) {
      id = this.names.length;
      this.names.push(name);
      this.ids.set(name, id);
    }
    return id;
  }

  private endSample(): void {
    // A sample whose header was filtered out has no process: it is dropped.
    if (this.process < 0) return;
    let node = this.trie.child(StackTrie.root, this.process);
    for (let i = this.depth - 1; i >= 0; i--) node = this.trie.child(node, this.leafFirst[i]!);
    this.trie.add(node, this.weight);
    if (this.leafTally) {
      const leaves = (this.leafTally[this.processWithPid] ??= new Map());
      const leaf = this.depth > 0 ? this.leafFirst[0]! : -1;
      leaves.set(leaf, (leaves.get(leaf) ?? 0) + Number(this.weight));
    }
    this.folded = undefined;
    this.depth = 0;
    this.process = -1;
  }

  private startSample(bytes: Buffer, start: number, end: number): void {
    const spans = this.eventSpans;
    const hasEvent = matchEvent(bytes, start, end, spans);
    if (hasEvent) {
      const event = this.eventName(bytes, spans.eventStart, spans.eventEnd);
      if (this.eventFilter === '') {
        // Different events (cycles and instructions) must not be added up: keep the first one.
        this.eventFilter = event;
      } else if (event !== this.eventFilter) {
        this.report.skippedSamples++;
        return;
      }
      this.report.event = this.eventFilter;
    }
    let process = this.processOf(bytes, start);
    if (this.leafTally) {
      this.processWithPid = process;
      process = this.processIds[process]!.process;
    }
    this.process = process >> 1;
    this.isJava = (process & 1) === 1;
    this.weight = 1;
    if (hasEvent && spans.periodEnd > spans.periodStart) {
      this.report.weightedSamples++;
      // A period of "0" counts 1, as Perl's truth has it ("00" is true: it adds 0).
      const zero = spans.periodEnd - spans.periodStart === 1 && bytes[spans.periodStart] === 0x30;
      if (!zero) this.weight = periodOf(bytes, spans.periodStart, spans.periodEnd);
    }
  }

  private eventName(bytes: Buffer, start: number, end: number): string {
    const hash = hashBytes(bytes, start, end);
    let id = this.events.get(bytes, start, end, hash);
    if (id === absent) {
      id = this.eventNames.push(bytes.toString('latin1', start, end)) - 1;
      if (!this.events.full) this.events.set(bytes, start, end, hash, id);
    }
    return this.eventNames[id]!;
  }

  /**
   * The process frame of a header (cached by its "comm pid/tid" bytes), times two, plus one for
   * Java; with processLeaves, an index into processIds, which holds that number.
   */
  private processOf(bytes: Buffer, start: number): number {
    const spans = this.header;
    const hash = hashBytes(bytes, start, spans.tidEnd);
    const known = this.processes.get(bytes, start, spans.tidEnd, hash);
    if (known !== absent) return known;
    const comm = bytes.toString('latin1', start, spans.commEnd);
    let pid = bytes.toString('latin1', spans.pidStart, spans.pidEnd);
    let tid = spans.tidEnd > spans.tidStart ? bytes.toString('latin1', spans.tidStart, spans.tidEnd) : undefined;
    // With only "comm tid" in the header the number is a thread's, not its process's.
    const processId = tid === undefined ? undefined : Number(pid);
    // "comm tid" (the default fields) has no pid; "0" counts as absent, as Perl's truth does.
    if (tid === undefined || tid === '0') {
      tid = pid;
      pid = '?';
    }
    const name = (this.withTid ? `${comm}-${pid}/${tid}` : this.withPid ? `${comm}-${pid}` : comm).replaceAll(' ', '_');
    let value = this.intern(name) * 2 + (name.startsWith('java') ? 1 : 0);
    if (this.leafTally) value = this.processIndex(comm, processId, value);
    if (!this.processes.full) this.processes.set(bytes, start, spans.tidEnd, hash, value);
    return value;
  }

  /** The index of a comm, pid and process frame in processIds (threads of a process with one comm share it unless tid is set). */
  private processIndex(comm: string, pid: number | undefined, process: number): number {
    const key = `${process} ${pid} ${comm}`;
    let index = this.processIndexes.get(key);
    if (index === undefined) {
      index = this.processIds.push({ comm, ...(pid === undefined ? {} : { pid }), process }) - 1;
      this.processIndexes.set(key, index);
    }
    return index;
  }

  /** What a frame line adds to a sample: frame ids, leaf first, as a cacheable number. */
  private readFrameLine(text: string): number {
    const frame = matchFrame(text);
    if (!frame) return unrecognized;
    const rawName = withoutOffset(frame.symbol);
    // Nothing left ("+0x10" alone) means no frame, as splitting an empty name gives no parts.
    if (rawName === '' || rawName.startsWith('(')) return skipFrame;
    if (!rawName.includes('->')) return this.intern(this.frameName(rawName, false, frame.address, frame.module));
    // "outer->inlined->..." lists a frame and the functions inlined into it, outermost first.
    const parts = rawName.split('->');
    while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    // Frames arrive leaf first; the group keeps its own order, so push it reversed.
    const group: number[] = [];
    for (let i = parts.length - 1; i >= 0; i--) group.push(this.intern(this.frameName(parts[i]!, i > 0, frame.address, frame.module)));
    if (group.length === 0) return skipFrame;
    if (group.length === 1) return group[0]!;
    this.inlinedGroups.push(group);
    return firstGroup - (this.inlinedGroups.length - 1);
  }

  private frameName(part: string, inlined: boolean, address: string, module: string): string {
    let name = part === '[unknown]' ? this.unknownSymbol(address, module) : part;
    name = tidy(name);
    if (this.isJava && name.includes('/') && name.startsWith('L')) name = name.slice(1);
    if (inlined) {
      if (!name.includes(frameMarks.inlined)) name += frameMarks.inlined;
    } else if (this.markKernel && isKernelModule(module)) {
      name += frameMarks.kernel;
    } else if (this.markJit && jitModule.test(module)) {
      if (!name.includes(frameMarks.jit)) name += frameMarks.jit;
    }
    return name;
  }

  /** "[unknown]" becomes the module's file name in brackets, or "[unknown]". */
  private unknownSymbol(address: string, module: string): string {
    const base = module === '[unknown]' ? 'unknown' : module.slice(module.lastIndexOf('/') + 1);
    return this.withAddresses ? `[${base} <${address}>]` : `[${base}]`;
  }
}

/** A period's decimal digits: a number while exact (15 digits), else a bigint. */
function periodOf(bytes: Buffer, start: number, end: number): number | bigint {
  if (end - start > 15) return parseWeight(bytes.toString('latin1', start, end));
  let value = 0;
  for (let i = start; i < end; i++) value = value * 10 + (bytes[i]! - 0x30);
  return value;
}

/** Semicolons separate frames, so they become colons; argument lists and quotes go. */
function tidy(name: string): string {
  if (!needsTidying.test(name)) return name;
  let tidied = name.replaceAll(';', ':');
  if (!goMethod.test(tidied)) tidied = tidied.replace(argumentList, '');
  return tidied.replace(quotes, '');
}

/** Strips a trailing "+0x<lowercase hex>" offset (perf >= 4.8 prints symbol+offset). */
function withoutOffset(symbol: string): string {
  const plus = symbol.lastIndexOf('+');
  if (plus < 0 || symbol.length < plus + 4 || symbol.charCodeAt(plus + 1) !== 0x30 || symbol.charCodeAt(plus + 2) !== 0x78) return symbol;
  for (let i = plus + 3; i < symbol.length; i++) {
    const c = symbol.charCodeAt(i);
    if (!((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x66))) return symbol;
  }
  return symbol.slice(0, plus);
}

function isKernelModule(module: string): boolean {
  return (module.startsWith('[') || module.endsWith('vmlinux')) && !module.includes('unknown');
}

function isBlank(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}
