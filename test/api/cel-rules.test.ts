import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { registeredRules } from '../../api/cel.js';
import '../../api/v1alpha1/index.js';
import { projectRoot } from '../../lib/paths.js';
import { ruleExamples, transitionExamples } from './cel-examples.js';

const rules = registeredRules.flatMap(({ schema, rules }) => rules.map((rule) => ({ schema, rule })));

/** Every x-kubernetes-validations entry of the generated CRDs. */
function crdValidations(): { rule: string; message: string }[] {
  const found: { rule: string; message: string }[] = [];
  const walk = (node: unknown): void => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === 'object') {
      for (const [key, value] of Object.entries(node)) {
        if (key === 'x-kubernetes-validations') found.push(...(value as { rule: string; message: string }[]));
        else walk(value);
      }
    }
  };
  for (const file of readdirSync(join(projectRoot, 'crds')).filter((f) => f.endsWith('.yaml'))) {
    for (const doc of parseAllDocuments(readFileSync(join(projectRoot, 'crds', file), 'utf8'))) walk(doc.toJS());
  }
  return found;
}

function sources(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? sources(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
  );
}

describe('CEL rules and their zod twins (api/cel.ts)', () => {
  it('come from one definition: no x-kubernetes-validations written by hand', () => {
    const byHand = sources('api')
      .filter((file) => file !== join('api', 'cel.ts'))
      .filter((file) => readFileSync(join(projectRoot, file), 'utf8').includes('x-kubernetes-validations'));
    expect(byHand).toEqual([]);
  });

  it('every rule in the generated CRDs has its twin', () => {
    const twins = new Set(rules.map(({ rule }) => `${rule.cel}\n${rule.message}`));
    const missing = crdValidations().filter((v) => !twins.has(`${v.rule}\n${v.message}`));
    expect(crdValidations().length).toBeGreaterThanOrEqual(rules.length);
    expect(missing).toEqual([]);
  });

  it('every rule has examples that pass and fail it', () => {
    for (const { rule } of rules) {
      const examples = rule.transition ? transitionExamples[rule.message] : ruleExamples[rule.message];
      expect(examples, `no examples for "${rule.message}" in test/api/cel-examples.ts`).toBeDefined();
      expect(examples!.pass.length, rule.message).toBeGreaterThan(0);
      expect(examples!.fail.length, rule.message).toBeGreaterThan(0);
    }
  });

  it('zod agrees with each example: a fail example is refused with the rule’s message at its field', () => {
    for (const { schema, rule } of rules.filter(({ rule }) => !rule.transition)) {
      const examples = ruleExamples[rule.message]!;
      for (const value of examples.pass) {
        const result = schema.safeParse(value);
        expect(result.success, `${rule.message}: ${JSON.stringify(value)} should pass: ${result.error?.message}`).toBe(true);
      }
      for (const value of examples.fail) {
        const result = schema.safeParse(value);
        expect(result.success, `${rule.message}: ${JSON.stringify(value)} should fail`).toBe(false);
        const path = (rule.fieldPath ?? '').split('.').filter(Boolean);
        expect(result.error!.issues, JSON.stringify(value)).toContainEqual(expect.objectContaining({ message: rule.message, path }));
      }
    }
  });

  it('transition twins agree with each example', () => {
    for (const { schema, rule } of rules.filter(({ rule }) => rule.transition)) {
      const examples = transitionExamples[rule.message]!;
      const parse = (value: unknown) => schema.parse(value) as never;
      for (const { old, next } of examples.pass) expect(rule.holds(parse(next), parse(old)), `${rule.message}: ${JSON.stringify({ old, next })}`).toBe(true);
      for (const { old, next } of examples.fail) expect(rule.holds(parse(next), parse(old)), `${rule.message}: ${JSON.stringify({ old, next })}`).toBe(false);
    }
  });
});
