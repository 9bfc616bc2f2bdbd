import { frameMarks, type CollapseOptions } from './collapse-options.js';
import { parseWeight, SampleCounter } from './sample-counter.js';

/*
 * `perf script` text -> folded stacks ("proc;root;...;leaf count"), with the output of
 * stackcollapse-perf.pl byte for byte. Lines are byte strings (latin1: one char per byte), so
 * sorting and every character class work on bytes as Perl does on undecoded input. The patterns
 * spell whitespace out because Perl's \s on bytes is ASCII only, where JavaScript's also matches
 * U+00A0; the `s` flag makes `.` match \r as Perl's does.
 */

/** "comm pid[/tid] ..." — the comm is lazy so a comm with spaces ("V8 WorkerThread") still parses. */
const sampleHeader = /^([^\t\n\v\f\r ].+?)[\t\n\v\f\r ]+(\d+)\/*(\d+)*[\t\n\v\f\r ]+/s;
/** "...: [period] event:" at the end of a header. */
const headerEvent = /:[\t\n\v\f\r ]*(\d+)*[\t\n\v\f\r ]+([^\t\n\v\f\r ]+):[\t\n\v\f\r ]*$/s;
/** "<address> <symbol>[+0xoff] (<module>)"; greedy, so the last parenthesised group is the module. */
const stackFrame = /^[\t\n\v\f\r ]*(\w+)[\t\n\v\f\r ]*(.+) \((.*)\)/s;
/** Go methods ("net/http.(*Client).Do") keep their parentheses; other names lose argument lists. */
const goMethod = /\.\(.*\)\./s;
const argumentList = /\((?!anonymous namespace\)).*/s;
const quotes = /["']/g;
const needsTidying = /[;("']/;
const jitModule = /\/tmp\/perf-\d+\.map/;

interface Header {
  processName: string;
  weight: string | undefined;
  event: string | undefined;
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
 * distinct stacks, never with the input.
 */
export class PerfScriptCollapser {
  private readonly counts = new SampleCounter();
  private readonly withPid: boolean;
  private readonly withTid: boolean;
  private readonly markKernel: boolean;
  private readonly markJit: boolean;
  private readonly withAddresses: boolean;
  private eventFilter: string;

  /** The sample being read: its process name (undefined between samples) and its frames, leaf first. */
  private processName: string | undefined;
  private weight: number | bigint = 1;
  private leafFirst: string[] = [];

  readonly report: CollapseReport = { skippedSamples: 0, weightedSamples: 0, unrecognizedLines: 0 };

  constructor(options: CollapseOptions = {}) {
    this.withPid = options.pid ?? false;
    this.withTid = options.tid ?? false;
    this.markKernel = (options.kernel ?? false) || (options.all ?? false);
    this.markJit = (options.jit ?? false) || (options.all ?? false);
    this.withAddresses = options.addrs ?? false;
    this.eventFilter = options.eventFilter ?? '';
  }

  /** Reads one line, without its newline. */
  line(text: string): void {
    if (text.length === 0) {
      this.endSample();
      return;
    }
    const first = text.charCodeAt(0);
    if (first === 0x23 /* # */) return;
    // A header starts with a non-blank; a frame line usually does not, so try the cheap test first.
    if (!isBlank(first)) {
      const header = sampleHeader.exec(text);
      if (header) {
        this.startSample(text, header);
        return;
      }
    }
    const frame = stackFrame.exec(text);
    if (frame) {
      this.addFrameLine(frame[1]!, frame[2]!, frame[3]!);
      return;
    }
    this.report.unrecognizedLines++;
    this.report.firstUnrecognizedLine ??= text.slice(0, 200);
  }

  /** The distinct stacks and their summed weights, in insertion order. */
  get stacks(): ReadonlyMap<string, number | bigint> {
    return this.counts.entries;
  }

  /** The folded output: one "stack count" line per distinct stack, sorted bytewise. */
  *foldedLines(): Generator<string> {
    for (const stack of [...this.counts.entries.keys()].sort()) {
      yield `${stack} ${this.counts.entries.get(stack)!.toString()}\n`;
    }
  }

  foldedText(): string {
    let text = '';
    for (const line of this.foldedLines()) text += line;
    return text;
  }

  private endSample(): void {
    // A sample whose header was filtered out has no process name: it is dropped.
    if (this.processName === undefined) return;
    let stack = this.processName;
    for (let i = this.leafFirst.length - 1; i >= 0; i--) stack += `;${this.leafFirst[i]!}`;
    this.counts.add(stack, this.weight);
    this.leafFirst = [];
    this.processName = undefined;
  }

  private startSample(text: string, match: RegExpExecArray): void {
    const header = this.readHeader(text, match);
    if (header.event !== undefined) {
      if (this.eventFilter === '') {
        // Different events (cycles and instructions) must not be added up: keep the first one.
        this.eventFilter = header.event;
      } else if (header.event !== this.eventFilter) {
        this.report.skippedSamples++;
        return;
      }
      this.report.event = this.eventFilter;
    }
    this.processName = header.processName;
    this.weight = header.weight === undefined || header.weight === '0' ? 1 : parseWeight(header.weight);
    if (header.weight !== undefined) this.report.weightedSamples++;
  }

  private readHeader(text: string, match: RegExpExecArray): Header {
    const comm = match[1]!;
    let pid = match[2]!;
    let tid = match[3];
    // "comm tid" (the default fields) has no pid; "0" counts as absent, as Perl's truth does.
    if (tid === undefined || tid === '0') {
      tid = pid;
      pid = '?';
    }
    const name = this.withTid ? `${comm}-${pid}/${tid}` : this.withPid ? `${comm}-${pid}` : comm;
    const event = headerEvent.exec(text);
    return { processName: name.replaceAll(' ', '_'), weight: event?.[1], event: event?.[2] };
  }

  private addFrameLine(address: string, symbol: string, module: string): void {
    if (this.processName === undefined) return;
    const rawName = withoutOffset(symbol);
    // Nothing left ("+0x10" alone) means no frame, as splitting an empty name gives no parts.
    if (rawName === '' || rawName.startsWith('(')) return;
    if (!rawName.includes('->')) {
      this.leafFirst.push(this.frameName(rawName, false, address, module));
      return;
    }
    // "outer->inlined->..." lists a frame and the functions inlined into it, outermost first.
    const parts = rawName.split('->');
    while (parts.length > 0 && parts[parts.length - 1] === '') parts.pop();
    // Frames arrive leaf first; the group keeps its own order, so push it reversed.
    for (let i = parts.length - 1; i >= 0; i--) {
      this.leafFirst.push(this.frameName(parts[i]!, i > 0, address, module));
    }
  }

  private frameName(part: string, inlined: boolean, address: string, module: string): string {
    let name = part === '[unknown]' ? this.unknownSymbol(address, module) : part;
    name = tidy(name);
    if (this.processName!.startsWith('java') && name.includes('/') && name.startsWith('L')) name = name.slice(1);
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
