import type { CollapseOptions } from './collapse-options.js';
import { forEachLine, LineSplitter } from './line-splitter.js';
import { PerfScriptCollapser } from './perf-script-collapser.js';

/** Collapses a `perf script` byte stream (a file, stdin, a process's output) line by line. */
export async function collapsePerfScriptStream(input: AsyncIterable<Buffer | string>, options: CollapseOptions = {}): Promise<PerfScriptCollapser> {
  const collapser = new PerfScriptCollapser(options);
  await forEachLine(input, (bytes, start, end) => collapser.lineBytes(bytes, start, end));
  return collapser;
}

/** Collapses `perf script` text already in memory (tests, small inputs). */
export function collapsePerfScript(text: string | Buffer, options: CollapseOptions = {}): PerfScriptCollapser {
  const collapser = new PerfScriptCollapser(options);
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const lines = new LineSplitter();
  lines.pushBytes(bytes, (b, start, end) => collapser.lineBytes(b, start, end));
  lines.endBytes((b, start, end) => collapser.lineBytes(b, start, end));
  return collapser;
}
