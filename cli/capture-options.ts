import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { captureEntryFor, type CaptureEntry } from '../api/v1alpha1/capture-entry.js';
import { captureKindIds, captureKinds, isCaptureKind, type CaptureKind } from '../api/v1alpha1/captures.js';
import { UsageError } from './command.js';

/** Captures run when none are named: quick, safe, and done in about the duration. */
export const defaultCaptures: CaptureKind[] = ['memory', 'slab', 'tcp', 'kernel-log', 'cpu-profile'];

function coerce(value: string, type: string | undefined): unknown {
  if (type === 'array')
    return value
      .split(',')
      .map((v) => v.trim())
      .filter(Boolean);
  if (value.startsWith('@')) return readFileSync(value.slice(1), 'utf8');
  if (type === 'boolean' && (value === 'true' || value === 'false')) return value === 'true';
  if (type === 'integer' && /^-?\d+$/.test(value)) return Number(value);
  return value;
}

function parameterTypes(kind: CaptureKind): Record<string, string | undefined> {
  const schema = z.toJSONSchema(captureKinds[kind].params, { io: 'input' }) as { properties?: Record<string, { type?: string }> };
  return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, v.type]));
}

/**
 * Builds KernelInvestigation capture entries (only what the user set) from --capture a,b and
 * --set kind.param=value options; parameters are checked against the capture's schema so a bad
 * value names the parameter and its limits.
 */
export function captureEntriesFromOptions(kinds: string[] | undefined, settings: string[] = []): CaptureEntry[] {
  const selected =
    kinds
      ?.flatMap((k) => k.split(','))
      .map((k) => k.trim())
      .filter(Boolean) ?? defaultCaptures;
  for (const kind of selected) {
    if (!isCaptureKind(kind)) throw new UsageError(`unknown capture "${kind}"; choose from ${captureKindIds.join(', ')}`);
  }
  const params = new Map<string, Record<string, unknown>>(selected.map((k) => [k, {}]));
  for (const setting of settings) {
    const match = /^([a-z-]+)\.([A-Za-z]+)=(.*)$/s.exec(setting);
    if (!match) throw new UsageError(`--set ${setting}: use --set <capture>.<parameter>=<value>, for example --set cpu-profile.frequencyHz=199`);
    const [, kind, key, value] = match as unknown as [string, string, string, string];
    const target = params.get(kind);
    if (!target) throw new UsageError(`--set ${setting}: capture "${kind}" is not selected (add it to --capture)`);
    const types = parameterTypes(kind as CaptureKind);
    if (!(key in types)) throw new UsageError(`--set ${setting}: ${kind} has no parameter "${key}"; it has ${Object.keys(types).join(', ')}`);
    target[key] = coerce(value, types[key]);
  }
  return [...params].map(([kind, values]) => {
    const schema = captureKinds[kind as CaptureKind].params;
    const result = (schema as z.ZodType).safeParse(values);
    if (!result.success) {
      const problems = result.error.issues.map((i) => `${kind}.${i.path.join('.') || '(params)'}: ${i.message}`).join('; ');
      throw new UsageError(problems);
    }
    return captureEntryFor(kind as CaptureKind, values);
  });
}
