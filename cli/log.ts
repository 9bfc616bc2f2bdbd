import { pino, type Logger } from 'pino';
import { statusLine } from './status-line.js';

const levelNames: Record<number, string> = { 10: 'trace', 20: 'debug', 30: 'info', 40: 'warning', 50: 'error', 60: 'fatal' };
/** Fields every record carries that say nothing to the person at the terminal. */
const hidden = new Set(['level', 'time', 'pid', 'hostname', 'name', 'msg', 'component']);

/** One log record as a line for people: "warning: <message> (key=value, ...)". */
export function formatRecord(json: string): string {
  let record: Record<string, unknown>;
  try {
    record = JSON.parse(json) as Record<string, unknown>;
  } catch {
    return json.trimEnd();
  }
  const fields = Object.entries(record)
    .filter(([key]) => !hidden.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  const level = levelNames[record.level as number] ?? 'log';
  return `${level}: ${String(record.msg ?? '')}${fields.length > 0 ? ` (${fields.join(', ')})` : ''}`;
}

/**
 * The CLI's logger: warnings and errors only, as readable lines on stderr above the progress
 * line; -v adds info, -vv debug, and KSLEUTH_LOG_LEVEL sets any level.
 */
export const cliLog: Logger = pino(
  { level: process.env.KSLEUTH_LOG_LEVEL ?? 'warn', base: undefined, timestamp: false },
  { write: (line: string) => statusLine.print(formatRecord(line)) },
);

export function setVerbosity(verbosity: number): void {
  if (verbosity >= 2) cliLog.level = 'debug';
  else if (verbosity === 1) cliLog.level = 'info';
}
