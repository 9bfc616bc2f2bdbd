import type { z } from 'zod';

/**
 * A validation rule of the API, written once: the CEL expression the API server evaluates
 * (`x-kubernetes-validations` in the CRD) and the same rule in TypeScript, which the zod schema
 * checks wherever ksleuth parses an object itself (the operator, the agent, the CLI's local runs).
 */
export interface CelRule<T> {
  /** The CEL expression; `self` is the value the rule is attached to (`oldSelf` the stored one). */
  cel: string;
  /** What the user reads when the rule does not hold: what is wrong and how to fix it. */
  message: string;
  /** The field the message is about, relative to the value (".deadlineSeconds"). */
  fieldPath?: string;
  /**
   * A rule about a change (CEL `oldSelf`): the API server checks it on updates only. zod parses
   * single objects, so its twin is not part of parsing; the tests hold it against the API
   * server's verdict, and callers that compare two versions can use it.
   */
  transition?: true;
  /** The rule in TypeScript: whether the value passes (`old`: the stored value, for a transition rule). */
  holds(value: T, old: T): boolean;
}

/** A schema and the rules attached to it, for the tests that hold each rule against its twin. */
export interface RegisteredRules {
  schema: z.ZodType;
  rules: CelRule<never>[];
}

/** Every schema given rules by {@link withCel}, in the order the API modules define them. */
export const registeredRules: RegisteredRules[] = [];

/** ".a.b" → ["a", "b"]: where zod reports the issue. */
function issuePath(fieldPath: string | undefined): string[] {
  return fieldPath ? fieldPath.split('.').filter(Boolean) : [];
}

/**
 * Attaches rules to a schema: each becomes an `x-kubernetes-validations` entry of the generated
 * CRD and, unless it is a transition rule, a refinement with the same message and path.
 */
export function withCel<S extends z.ZodType>(schema: S, rules: NoInfer<CelRule<z.output<S>>>[]): S {
  const meta = (schema.meta() ?? {}) as Record<string, unknown>;
  const existing = (meta['x-kubernetes-validations'] as unknown[] | undefined) ?? [];
  const validations = rules.map((rule) => ({ rule: rule.cel, message: rule.message, ...(rule.fieldPath ? { fieldPath: rule.fieldPath } : {}) }));
  const checked = rules.filter((rule) => !rule.transition);
  const result = schema.meta({ ...meta, 'x-kubernetes-validations': [...existing, ...validations] }).superRefine((value, ctx) => {
    for (const rule of checked) {
      if (!rule.holds(value as z.output<S>, value as z.output<S>)) ctx.addIssue({ code: 'custom', message: rule.message, path: issuePath(rule.fieldPath) });
    }
  }) as unknown as S;
  registeredRules.push({ schema: result, rules: rules as CelRule<never>[] });
  return result;
}

/** CEL's `==` on JSON values: lists element by element, maps by key whatever their order. */
export function celEquals(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (Array.isArray(a) || Array.isArray(b)) {
    return Array.isArray(a) && Array.isArray(b) && a.length === b.length && a.every((item, i) => celEquals(item, b[i]));
  }
  if (a === null || b === null || typeof a !== 'object' || typeof b !== 'object') return false;
  const left = a as Record<string, unknown>;
  const right = b as Record<string, unknown>;
  const keys = Object.keys(left).filter((key) => left[key] !== undefined);
  return keys.length === Object.keys(right).filter((key) => right[key] !== undefined).length && keys.every((key) => celEquals(left[key], right[key]));
}
