import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { findingPatterns, severities, type FindingPattern, type Severity } from '../../../api/v1alpha1/finding.js';
import { watchConditionTypes, type WatchConditionType } from '../../../api/v1alpha1/node-conditions.js';
import { projectRoot } from '../../../lib/paths.js';

/** The rules file shipped with the agent. */
export const shippedRulesFile = join(projectRoot, 'node-agent', 'patterns', 'kernel-log', 'rules.yaml');

function regex(what: string) {
  return z
    .string()
    .min(1)
    .superRefine((source, ctx) => {
      try {
        new RegExp(source);
      } catch (error) {
        ctx.addIssue({ code: 'custom', message: `${what} is not a valid regular expression (${(error as Error).message}): fix the escaping or the groups` });
      }
    });
}

const ruleSchema = z.strictObject({
  id: z.string().regex(/^[a-z0-9]+(-[a-z0-9]+)*$/, 'id must be lower-case words joined by dashes, for example "hung-task"'),
  pattern: z.enum(findingPatterns, { error: (issue) => `"${String(issue.input)}" is not a finding id; use one of ${findingPatterns.join(', ')}` }),
  severity: z.enum(severities, { error: (issue) => `"${String(issue.input)}" is not a severity; use one of ${severities.join(', ')}` }).optional(),
  title: z.string().min(1).max(200),
  match: regex('match'),
  /** Also required: a line of the call trace that follows the matching record. */
  stack: regex('stack').optional(),
  recommendation: z.string().min(1).max(2048).optional(),
  /** A permanent problem: the Node condition the always-on watch sets until the node reboots. */
  condition: z
    .enum(watchConditionTypes, { error: (issue) => `"${String(issue.input)}" is not a ksleuth node condition; use one of ${watchConditionTypes.join(', ')}` })
    .optional(),
  /** Where the message comes from (kernel source, node-problem-detector rule). */
  source: z.string().optional(),
});

const rulesFileSchema = z.strictObject({
  defaults: z
    .strictObject({
      severity: z.enum(severities, { error: (issue) => `"${String(issue.input)}" is not a severity; use one of ${severities.join(', ')}` }).default('warning'),
      recommendation: z.string().min(1).max(2048),
    })
    .describe('Applied to rules that leave a field out.'),
  rules: z.array(ruleSchema).min(1),
});

export interface KernelLogRule {
  id: string;
  pattern: FindingPattern;
  severity: Severity;
  title: string;
  match: RegExp;
  stack?: RegExp;
  recommendation: string;
  /** Set for a permanent problem (a Node condition until reboot); a transient one is an Event. */
  condition?: WatchConditionType;
  source?: string;
}

/** A rules file that cannot be used; the message names the file, the entry and the field. */
export class RulesError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'RulesError';
  }
}

function describeEntry(document: unknown, path: PropertyKey[]): string {
  if (path[0] === 'rules' && typeof path[1] === 'number') {
    const entry = (document as { rules?: unknown[] }).rules?.[path[1]] as { id?: unknown } | undefined;
    const id = typeof entry?.id === 'string' ? ` (id "${entry.id}")` : '';
    const field = path.slice(2).join('.');
    return `rule #${path[1] + 1}${id}${field ? `, field ${field}` : ''}`;
  }
  return path.length > 0 ? `field ${path.join('.')}` : 'the file';
}

/** Validates, defaults and compiles a parsed rules document. `origin` names it in errors. */
export function compileRules(document: unknown, origin: string): KernelLogRule[] {
  const result = rulesFileSchema.safeParse(document);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${describeEntry(document, issue.path)}: ${issue.message}`);
    throw new RulesError(`kernel-log rules ${origin} are invalid:\n  ${problems.join('\n  ')}`);
  }
  const { defaults, rules } = result.data;
  const seen = new Set<string>();
  for (const [i, rule] of rules.entries()) {
    if (seen.has(rule.id))
      throw new RulesError(`kernel-log rules ${origin} are invalid:\n  rule #${i + 1} (id "${rule.id}"): the id is used twice; ids must be unique`);
    seen.add(rule.id);
  }
  return rules.map((rule) => ({
    id: rule.id,
    pattern: rule.pattern,
    severity: rule.severity ?? defaults.severity,
    title: rule.title,
    match: new RegExp(rule.match),
    ...(rule.stack ? { stack: new RegExp(rule.stack) } : {}),
    recommendation: rule.recommendation ?? defaults.recommendation,
    ...(rule.condition ? { condition: rule.condition } : {}),
    ...(rule.source ? { source: rule.source } : {}),
  }));
}

/** Reads, validates and compiles a YAML rules file; throws RulesError naming what is wrong. */
export function loadRulesFile(path: string): KernelLogRule[] {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new RulesError(`kernel-log rules file ${path} cannot be read: ${(error as Error).message}`);
  }
  let document: unknown;
  try {
    document = parseYaml(text);
  } catch (error) {
    throw new RulesError(`kernel-log rules file ${path} is not valid YAML: ${(error as Error).message}`);
  }
  return compileRules(document, `in ${path}`);
}
