import type { CollapseOptions } from './collapse-options.js';
import { forEachLine } from './line-splitter.js';
import { PerfScriptCollapser } from './perf-script-collapser.js';

/** Collapses a `perf script` byte stream (a file, stdin, a process's output) line by line. */
export async function collapsePerfScriptStream(input: AsyncIterable<Buffer | string>, options: CollapseOptions = {}): Promise<PerfScriptCollapser> {
  const collapser = new PerfScriptCollapser(options);
  await forEachLine(input, (line) => collapser.line(line));
  return collapser;
}

/** Collapses `perf script` text already in memory (tests, small inputs). */
export function collapsePerfScript(text: string | Buffer, options: CollapseOptions = {}): PerfScriptCollapser {
  const collapser = new PerfScriptCollapser(options);
  const bytes = typeof text === 'string' ? Buffer.from(text, 'utf8') : text;
  const lines = bytes.toString('latin1').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  for (const line of lines) collapser.line(line);
  return collapser;
}
