import type { z } from 'zod';
import {
  allowListFile,
  type AllowListEntry,
  type AllowListFile,
  type DeniedPattern,
  type EnumEntry,
  type IntegerEntry,
  type TupleEntry,
} from './allowlist-schema.js';

/** An allowed sysctl, with the file that last defined or narrowed it. */
export type AllowedSysctl = AllowListEntry & { source: string };

/** The merged, validated allow-list. Plain data: the operator and an admission policy can use it too. */
export interface AllowList {
  readonly sysctls: ReadonlyMap<string, AllowedSysctl>;
  readonly denied: readonly (DeniedPattern & { source: string })[];
  /** The files it was built from, base first, as they are named in messages. */
  readonly sources: readonly string[];
}

/** An allow-list file that cannot be used; the message names the file, the entry and the fix. */
export class AllowListError extends Error {
  readonly reason = 'InvalidAllowList';
  constructor(message: string) {
    super(message);
    this.name = 'AllowListError';
  }
}

export interface AllowListSource {
  /** How the file is named in messages, e.g. config/sysctl-allowlist.yaml. */
  source: string;
  /** The parsed YAML or JSON. */
  data: unknown;
}

/**
 * Validates and merges allow-list files, base first. A later file may add keys, narrow the range
 * of a key (same type and scope, a range inside the earlier one, a subset of enum values) and add
 * denied patterns, which also drop matching keys of earlier files. It can never widen a range or
 * allow a denied key. Throws AllowListError naming the first bad entry.
 */
export function buildAllowList(files: readonly AllowListSource[]): AllowList {
  if (files.length === 0) throw new AllowListError('no sysctl allow-list file given: pass at least the shipped config/sysctl-allowlist.yaml');
  const sysctls = new Map<string, AllowedSysctl>();
  const denied: (DeniedPattern & { source: string })[] = [];
  for (const { source, data } of files) {
    const file = parseFile(source, data);
    for (const pattern of file.denied) {
      denied.push({ ...pattern, source });
      for (const name of [...sysctls.keys()]) if (matchesPattern(pattern.pattern, name)) sysctls.delete(name);
    }
    file.sysctls.forEach((entry, index) => {
      const where = `${source}: sysctls[${index}] (${entry.name})`;
      const deniedBy = denied.find((d) => matchesPattern(d.pattern, entry.name));
      if (deniedBy) {
        throw new AllowListError(
          `${where}: ${entry.name} matches the denied pattern ${deniedBy.pattern} (${deniedBy.source}: ${deniedBy.why}); remove the entry`,
        );
      }
      const earlier = sysctls.get(entry.name);
      if (earlier) checkNarrows(where, earlier, entry);
      sysctls.set(entry.name, earlier ? mergeNarrowed(earlier, entry, source) : { ...entry, source });
    });
  }
  return { sysctls, denied, sources: files.map((f) => f.source) };
}

/** Whether a sysctl name matches a denied pattern, where * matches any characters. */
export function matchesPattern(pattern: string, name: string): boolean {
  const regex = new RegExp(`^${pattern.split('*').map(escapeRegex).join('.*')}$`);
  return regex.test(name);
}

function escapeRegex(text: string): string {
  return text.replace(/[.+?^${}()|[\]\\/-]/g, '\\$&');
}

function parseFile(source: string, data: unknown): AllowListFile {
  if (data === null || data === undefined) data = {};
  const result = allowListFile.safeParse(data);
  if (!result.success) throw new AllowListError(`${source}: ${describeIssues(result.error, data)}`);
  const file = result.data;
  const seen = new Map<string, number>();
  file.sysctls.forEach((entry, index) => {
    const where = `${source}: sysctls[${index}] (${entry.name})`;
    const first = seen.get(entry.name);
    if (first !== undefined) throw new AllowListError(`${where}: ${entry.name} is listed twice (also sysctls[${first}]); keep one entry`);
    seen.set(entry.name, index);
    checkEntry(where, entry);
  });
  return file;
}

function checkEntry(where: string, entry: AllowListEntry): void {
  if (entry.scope === 'netns' && !entry.name.startsWith('net.')) {
    throw new AllowListError(`${where}: scope is netns but only net.* sysctls belong to a network namespace; use scope: global`);
  }
  if (entry.type === 'integer') checkRange(where, entry);
  if (entry.type === 'tuple') {
    const names = new Set<string>();
    entry.fields.forEach((field, i) => {
      if (names.has(field.name)) throw new AllowListError(`${where}: fields[${i}].name ${field.name} is used twice; give each field its own name`);
      names.add(field.name);
      checkRange(`${where}: fields[${i}] (${field.name})`, field);
    });
  }
  if (entry.type === 'enum' && new Set(entry.values).size !== entry.values.length) {
    throw new AllowListError(`${where}: values lists a value twice; list each once`);
  }
}

function checkRange(where: string, range: { min: number; max: number }): void {
  if (range.min > range.max) throw new AllowListError(`${where}: min ${range.min} is above max ${range.max}; swap them`);
}

function checkNarrows(where: string, earlier: AllowedSysctl, entry: AllowListEntry): void {
  const refuse = (what: string): never => {
    throw new AllowListError(`${where}: an extra entry may only narrow ${entry.name} as defined in ${earlier.source}, but ${what}`);
  };
  if (entry.type !== earlier.type) refuse(`its type is ${entry.type}, not ${earlier.type}`);
  if (entry.scope !== earlier.scope) refuse(`its scope is ${entry.scope}, not ${earlier.scope}`);
  if (entry.type === 'integer') {
    const base = earlier as IntegerEntry;
    if (entry.min < base.min || entry.max > base.max) refuse(`${entry.min}..${entry.max} is not inside ${base.min}..${base.max}`);
  } else if (entry.type === 'tuple') {
    const base = earlier as TupleEntry;
    if (entry.fields.length !== base.fields.length) refuse(`it has ${entry.fields.length} fields, not ${base.fields.length}`);
    entry.fields.forEach((field, i) => {
      const baseField = base.fields[i]!;
      if (field.min < baseField.min || field.max > baseField.max) {
        refuse(`field ${field.name} ${field.min}..${field.max} is not inside ${baseField.min}..${baseField.max}`);
      }
    });
  } else {
    const base = earlier as EnumEntry;
    const extra = entry.values.filter((v) => !base.values.includes(v));
    if (extra.length > 0) refuse(`${extra.join(', ')} ${extra.length === 1 ? 'is' : 'are'} not among ${base.values.join(', ')}`);
  }
}

function mergeNarrowed(earlier: AllowedSysctl, entry: AllowListEntry, source: string): AllowedSysctl {
  // An extra entry cannot switch off the ordering rule of a tuple.
  if (entry.type === 'tuple' && earlier.type === 'tuple') return { ...entry, ascending: entry.ascending || earlier.ascending, source };
  return { ...entry, source };
}

function describeIssues(error: z.ZodError, data: unknown): string {
  return error.issues
    .slice(0, 3)
    .map((issue) => `${describePath(issue.path, data)}: ${issue.message}`)
    .join('; ');
}

/** sysctls.3.max → "sysctls[3] (vm.swappiness).max", naming the entry the user wrote. */
function describePath(path: readonly PropertyKey[], data: unknown): string {
  let text = '';
  let node: unknown = data;
  for (const key of path) {
    node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[key] : undefined;
    if (typeof key === 'number') {
      text += `[${key}]`;
      const name = node !== null && typeof node === 'object' ? (node as { name?: unknown }).name : undefined;
      if (typeof name === 'string') text += ` (${name})`;
    } else {
      text += text === '' ? String(key) : `.${String(key)}`;
    }
  }
  return text === '' ? 'the file' : text;
}
