import { stringify } from 'yaml';
import { UsageError } from './command.js';

/** How a command prints what it shows, as kubectl's -o does. */
export type OutputFormat = 'table' | 'wide' | 'json' | 'yaml' | 'name';

/** The -o option, for parseArgs. */
export const outputOption = { output: { type: 'string', short: 'o' } } as const;

/** Its line in a usage text (the choices are what completion offers). */
export function outputUsage(formats: readonly OutputFormat[]): string {
  const shown = formats.filter((f) => f !== 'table');
  return `  -o, --output ${shown.join('|')}\n                     print as kubectl -o does${formats.includes('table') ? ' (default: tables for people)' : ''}`;
}

/** The format the user asked for, checked against what the command can print. */
export function outputFormat(value: string | undefined, allowed: readonly OutputFormat[], fallback: OutputFormat = 'table'): OutputFormat {
  if (value === undefined) return fallback;
  if (!(allowed as readonly string[]).includes(value) || value === 'table') {
    throw new UsageError(`-o ${value}: use one of ${allowed.filter((f) => f !== 'table').join(', ')}`);
  }
  return value as OutputFormat;
}

interface Named {
  apiVersion?: string;
  kind?: string;
  metadata: { name?: string };
}

/** "kernelinvestigation.ksleuth.io/NAME", as kubectl -o name prints objects. */
export function resourceName(object: Named): string {
  const group = object.apiVersion?.includes('/') ? `.${object.apiVersion.split('/')[0]}` : '';
  return `${(object.kind ?? 'object').toLowerCase()}${group}/${object.metadata.name ?? ''}`;
}

/**
 * Prints one object or a list in a machine format: json and yaml as kubectl prints them (a list
 * as a v1 List), name as one "kind.group/name" per line. Tables are the command's own.
 */
export function printObjects(format: 'json' | 'yaml' | 'name', objects: Named | Named[]): void {
  const list = Array.isArray(objects);
  if (format === 'name') {
    for (const object of list ? objects : [objects]) process.stdout.write(`${resourceName(object)}\n`);
    return;
  }
  const document = list ? { apiVersion: 'v1', kind: 'List', items: objects, metadata: { resourceVersion: '' } } : objects;
  process.stdout.write(format === 'json' ? `${JSON.stringify(document, null, 2)}\n` : stringify(document, { lineWidth: 0 }));
}

/** True for the formats printObjects handles. */
export function isMachineFormat(format: OutputFormat): format is 'json' | 'yaml' | 'name' {
  return format === 'json' || format === 'yaml' || format === 'name';
}
