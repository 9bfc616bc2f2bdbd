import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { findingPatterns, severities } from '../../api/v1alpha1/finding.js';
import { watchConditionTypes } from '../../api/v1alpha1/node-conditions.js';
import { projectRoot } from '../../lib/paths.js';

/** The watch configuration shipped with the agent. */
export const shippedWatchConfigFile = join(projectRoot, 'node-agent', 'watch', 'watch.yaml');

const seconds = z
  .number()
  .min(0.05, 'must be at least 0.05 seconds')
  .max(30 * 86_400, 'must be at most 30 days');
const share = z.number().min(0).max(1);

const samplerSchema = z.strictObject({ intervalSeconds: seconds, enabled: z.boolean().default(true) });

const samplingSchema = z.strictObject({
  kernelLog: z.strictObject({ kmsgSeconds: seconds, syslogSeconds: seconds, lookbackSeconds: z.number().min(0), enabled: z.boolean().default(true) }),
  slab: samplerSchema.extend({ caches: z.int().min(1).max(256) }),
  memory: samplerSchema,
  pressure: samplerSchema,
  tcp: samplerSchema.extend({ namespacesPerSample: z.int().min(1).max(4096), maxNamespaces: z.int().min(1).max(65_536) }),
});

const tierSchema = z.strictObject({ stepSeconds: seconds, points: z.int().min(2).max(100_000) });

const historySchema = z.strictObject({
  tiers: z
    .array(tierSchema)
    .min(1)
    .max(4)
    .refine((tiers) => tiers.every((t, i) => i === 0 || t.stepSeconds > tiers[i - 1]!.stepSeconds), 'tiers go from the finest step to the coarsest'),
  persistSeconds: seconds,
  maxSeries: z.int().min(8).max(1024),
});

const findingsSchema = z.strictObject({
  transientSeconds: z.number().min(0),
  maxActive: z.int().min(1).max(64),
  maxEvidence: z.int().min(1).max(20),
  eventsPerMinute: z.int().min(0).max(600),
  resolveAfter: z.int().min(1).max(100),
});

const trendCommon = {
  id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'id must be lower-case words joined by dashes, for example "slab-cache-growth"'),
  enabled: z.boolean().default(true),
  pattern: z.enum(findingPatterns, { error: (issue) => `"${String(issue.input)}" is not a finding id; use one of ${findingPatterns.join(', ')}` }),
  severity: z.enum(severities).default('warning'),
  condition: z
    .enum(watchConditionTypes, { error: (issue) => `"${String(issue.input)}" is not a ksleuth node condition; use one of ${watchConditionTypes.join(', ')}` })
    .optional(),
  series: z.string().regex(/^[A-Za-z0-9_-]+(\.([A-Za-z0-9_-]+|\*))*$/, 'series is a history series name, with * for one dotted part, for example slab.*.bytes'),
  subject: z.string().min(1).max(120),
  unit: z.enum(['bytes', 'count', 'ratio', 'perSecond', 'index']),
  windowSeconds: seconds,
  minPoints: z.int().min(2),
  recommendation: z.string().min(1).max(2048),
};

const riseTrend = z.strictObject({
  ...trendCommon,
  detector: z.literal('rise'),
  minIncrease: z.number().min(0),
  minRiseShare: share,
  maxFallShare: share,
  minLevel: z.number().optional(),
  criticalLevel: z.number().optional(),
  criticalIncrease: z.number().min(0).optional(),
  minDailyShareOfMemory: share.optional(),
  criticalDailyShareOfMemory: share.optional(),
});

const levelTrend = z.strictObject({
  ...trendCommon,
  detector: z.literal('level'),
  minLevel: z.number(),
  criticalLevel: z.number().optional(),
  baselineSeconds: seconds.optional(),
  maxBaseline: z.number().optional(),
  minIncrease: z.number().min(0).optional(),
});

const trendSchema = z.discriminatedUnion('detector', [riseTrend, levelTrend], {
  error: (issue) => (issue.code === 'invalid_union' ? 'detector must be rise or level' : undefined),
});

const watchConfigSchema = z.strictObject({
  sampling: samplingSchema,
  history: historySchema,
  findings: findingsSchema,
  trends: z.array(trendSchema).max(64),
});

export type WatchConfig = z.infer<typeof watchConfigSchema>;
export type TrendConfig = WatchConfig['trends'][number];
export type RiseTrendConfig = z.infer<typeof riseTrend>;
export type LevelTrendConfig = z.infer<typeof levelTrend>;
export type TierConfig = WatchConfig['history']['tiers'][number];

/** A watch configuration that cannot be used; the message names the file, the entry and the field. */
export class WatchConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WatchConfigError';
  }
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/**
 * An override over the shipped configuration: objects merge key by key, `trends` entry by entry
 * (an entry with a known id changes that trend, one with a new id adds a trend), other lists and
 * values are replaced.
 */
export function mergeWatchConfig(base: unknown, override: unknown, path: string[] = []): unknown {
  if (override === undefined || override === null) return base;
  if (path.length === 1 && path[0] === 'trends' && Array.isArray(base) && Array.isArray(override)) {
    const merged = base.map((entry) => ({ ...(entry as object) }) as Record<string, unknown>);
    for (const entry of override) {
      const id = isObject(entry) ? entry.id : undefined;
      const known = merged.find((t) => t.id === id);
      if (known && isObject(entry)) Object.assign(known, entry);
      else merged.push(entry as Record<string, unknown>);
    }
    return merged;
  }
  if (isObject(base) && isObject(override)) {
    const merged: Record<string, unknown> = { ...base };
    for (const [key, value] of Object.entries(override)) merged[key] = mergeWatchConfig(base[key], value, [...path, key]);
    return merged;
  }
  return override;
}

function describeIssue(document: unknown, path: PropertyKey[]): string {
  if (path[0] === 'trends' && typeof path[1] === 'number') {
    const entry = (document as { trends?: unknown[] }).trends?.[path[1]] as { id?: unknown } | undefined;
    const id = typeof entry?.id === 'string' ? ` (id "${entry.id}")` : '';
    const field = path.slice(2).join('.');
    return `trend #${path[1] + 1}${id}${field ? `, field ${field}` : ''}`;
  }
  return path.length > 0 ? `field ${path.join('.')}` : 'the document';
}

/** What a sound configuration must also satisfy beyond the schema. */
function crossChecks(config: WatchConfig): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const tiers = config.history.tiers;
  const longest = tiers.at(-1)!.stepSeconds * (tiers.at(-1)!.points - 1);
  config.trends.forEach((trend, i) => {
    const where = `trend #${i + 1} (id "${trend.id}")`;
    if (ids.has(trend.id)) problems.push(`${where}: the id is used twice; ids must be unique`);
    ids.add(trend.id);
    const span = trend.windowSeconds + (trend.detector === 'level' ? (trend.baselineSeconds ?? 0) : 0);
    if (trend.enabled && span > longest) {
      problems.push(`${where}: its window (with the baseline) spans ${span} s, more than the history keeps (${longest} s): shorten it or add a coarser tier`);
    }
    if (trend.detector === 'rise' && trend.minRiseShare + trend.maxFallShare > 1) {
      problems.push(`${where}: minRiseShare + maxFallShare is above 1, which no series can meet`);
    }
  });
  return problems;
}

/** Validates and defaults a configuration document. `origin` names it in errors. */
export function compileWatchConfig(document: unknown, origin: string): WatchConfig {
  const result = watchConfigSchema.safeParse(document);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${describeIssue(document, issue.path)}: ${issue.message}`);
    throw new WatchConfigError(`watch configuration ${origin} is invalid:\n  ${problems.join('\n  ')}`);
  }
  const problems = crossChecks(result.data);
  if (problems.length > 0) throw new WatchConfigError(`watch configuration ${origin} is invalid:\n  ${problems.join('\n  ')}`);
  return result.data;
}

function readYaml(path: string, what: string): unknown {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new WatchConfigError(`${what} ${path} cannot be read: ${(error as Error).message}`);
  }
  try {
    return parseYaml(text) ?? {};
  } catch (error) {
    throw new WatchConfigError(`${what} ${path} is not valid YAML: ${(error as Error).message}`);
  }
}

/**
 * The shipped watch configuration with the override files merged over it, in order (the chart's
 * watch.config, a test's shorter intervals). Throws WatchConfigError naming what is wrong.
 */
export function loadWatchConfig(overrides: string[] = [], extra?: unknown): WatchConfig {
  let document = readYaml(shippedWatchConfigFile, 'watch configuration file');
  for (const path of overrides) document = mergeWatchConfig(document, readYaml(path, 'watch configuration override'));
  if (extra !== undefined) document = mergeWatchConfig(document, extra);
  const origin = overrides.length > 0 ? `(${shippedWatchConfigFile} with ${overrides.join(', ')} merged over it)` : `in ${shippedWatchConfigFile}`;
  return compileWatchConfig(document, origin);
}
