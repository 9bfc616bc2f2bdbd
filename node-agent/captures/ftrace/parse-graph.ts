import { parseBufferStats } from './trace-line.js';

export interface GraphFunction {
  name: string;
  /** Entries seen (opening lines and leaf lines). */
  calls: number;
  /** Calls whose duration was in the trace (leaf lines and closing braces). */
  timedCalls: number;
  totalUs: number;
  averageUs: number;
  maxUs: number;
}

export interface GraphParsed {
  mode: 'function_graph';
  windowSeconds: number;
  /** Longest total time first. */
  functions: GraphFunction[];
  /** Calls deeper than maxDepth that were left out. */
  deeperCalls: number;
  droppedEvents: number;
  overrunEvents: number;
  truncated: boolean;
}

/*
 * The function_graph format (Documentation/trace/ftrace.rst, "function graph tracer"):
 *   [abstime |] CPU) [task-pid |] [overhead mark] [duration us] |  <indent>call
 * where call is "name() {" (entry of a function with traced children), "name();" (a leaf, with
 * its duration), or "}" (the exit, with the duration of the whole call; a C comment after it names
 * the function when its entry is not in the trace, or always with the funcgraph-tail option).
 * The indentation is two spaces a level. A context-switch banner ("0)  bash-1 => sshd-2")
 * tells which task a CPU runs, so exits are matched to entries of the same task.
 */
const abstimePrefix = /^\s*\d+\.\d+\s+\|/;
const cpuColumn = /^\s*(\d+)\)(.*)$/;
const durationColumn = /^\s*(?:[+!#*@$]\s+)?(\d+(?:\.\d+)?)\s+us\s*$/;
const taskColumn = /^\s*\S.*-\d+\s*$/;
const switchBanner = /^\s*(\d+)\)\s+(\S.*?-\d+)\s+=>\s+(\S.*?-\d+)\s*$/;
const entry = /^([^\s(]+(?: \[[\w-]+\])?)\(\) \{/;
const leaf = /^([^\s(]+(?: \[[\w-]+\])?)\(\);/;
const tailName = /^\}\s*\/\*\s*([^\s=*]+)/;

interface Accumulator {
  calls: number;
  timedCalls: number;
  totalUs: number;
  maxUs: number;
}

/** Per-function calls and total/average/max duration from a function_graph trace, to maxDepth levels. */
export function parseGraphTrace(trace: string, maxDepth: number, windowSeconds: number, cpuStats: string[], truncated: boolean): GraphParsed {
  const functions = new Map<string, Accumulator>();
  const taskOnCpu = new Map<string, string>();
  // The function open at each depth, per task: exits take the name from here.
  const openAt = new Map<string, Map<number, string>>();
  let deeperCalls = 0;

  const account = (name: string, durationUs: number | undefined, entered: boolean): void => {
    const acc = functions.get(name) ?? { calls: 0, timedCalls: 0, totalUs: 0, maxUs: 0 };
    if (entered) acc.calls++;
    if (durationUs !== undefined) {
      acc.timedCalls++;
      acc.totalUs += durationUs;
      acc.maxUs = Math.max(acc.maxUs, durationUs);
    }
    functions.set(name, acc);
  };

  for (const rawLine of trace.split('\n')) {
    if (rawLine.startsWith('#')) continue;
    const banner = switchBanner.exec(rawLine);
    if (banner) {
      taskOnCpu.set(banner[1]!, banner[3]!);
      continue;
    }
    const line = rawLine.replace(abstimePrefix, '');
    const cpu = cpuColumn.exec(line);
    if (!cpu) continue;
    const columns = cpu[2]!.split('|');
    if (columns.length < 2) continue;
    // Columns before the call: an optional task-pid column, then the duration column.
    const hasTask = columns.length >= 3 && taskColumn.test(columns[0]!);
    const durationText = columns[hasTask ? 1 : 0]!;
    const call = columns.slice(hasTask ? 2 : 1).join('|');
    const indent = call.length - call.trimStart().length;
    const text = call.trim();
    if (!text || text.startsWith('/*')) continue;
    const depth = Math.max(0, Math.floor((indent - 2) / 2));
    const durationMatch = durationColumn.exec(durationText);
    const durationUs = durationMatch ? Number(durationMatch[1]) : undefined;
    const task = hasTask ? columns[0]!.trim() : (taskOnCpu.get(cpu[1]!) ?? `cpu${cpu[1]}`);
    const open = openAt.get(task) ?? new Map<number, string>();
    openAt.set(task, open);

    const opened = entry.exec(text);
    const leafCall = opened ? undefined : leaf.exec(text);
    if (opened || leafCall) {
      const name = (opened ?? leafCall)![1]!;
      if (opened) open.set(depth, name);
      if (depth >= maxDepth) {
        deeperCalls++;
        continue;
      }
      account(name, leafCall ? durationUs : undefined, true);
      continue;
    }
    if (text.startsWith('}')) {
      const entered = open.get(depth);
      const name = tailName.exec(text)?.[1] ?? entered;
      open.delete(depth);
      if (!name || depth >= maxDepth) continue;
      // An exit whose entry is not in the trace (it began before the window) is a call too.
      account(name, durationUs, entered !== name);
    }
  }

  const buffer = parseBufferStats(cpuStats);
  return {
    mode: 'function_graph',
    windowSeconds,
    functions: [...functions]
      .map(([name, acc]) => ({
        name,
        calls: acc.calls,
        timedCalls: acc.timedCalls,
        totalUs: Math.round(acc.totalUs * 1000) / 1000,
        averageUs: acc.timedCalls ? Math.round((acc.totalUs / acc.timedCalls) * 1000) / 1000 : 0,
        maxUs: acc.maxUs,
      }))
      .sort((a, b) => b.totalUs - a.totalUs || b.calls - a.calls || a.name.localeCompare(b.name)),
    deeperCalls,
    droppedEvents: buffer.dropped,
    overrunEvents: buffer.overrun,
    truncated,
  };
}
