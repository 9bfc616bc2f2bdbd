import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { describe, expect, it } from 'vitest';
import { parseKmsg } from '../../../../node-agent/engine/kmsg-record.js';
import { matchRules } from '../../../../node-agent/patterns/kernel-log/match.js';
import { compileRules, loadRulesFile, RulesError, shippedRulesFile } from '../../../../node-agent/patterns/kernel-log/rules.js';
import { fixture } from '../../fixtures.js';

interface Sample {
  rule: string;
  source: string;
  records: string[];
  matches?: number;
}

const samples = parseYaml(fixture('kernel-log', 'rule-samples.yaml')) as Sample[];

const validRule = { id: 'hung-task', pattern: 'hung-task', title: 'A task hung', match: 'blocked for more than' };
const validFile = { defaults: { recommendation: 'Look at the log.' }, rules: [validRule] };

function errorOf(document: unknown): string {
  try {
    compileRules(document, 'in test.yaml');
  } catch (error) {
    expect(error).toBeInstanceOf(RulesError);
    return (error as Error).message;
  }
  throw new Error('expected the rules to be refused');
}

describe('shipped kernel-log rules', () => {
  it('every rules file shipped with the capture loads and compiles', async () => {
    const dir = dirname(shippedRulesFile);
    const files = (await readdir(dir)).filter((f) => /\.ya?ml$/.test(f));
    expect(files).toContain('rules.yaml');
    for (const file of files) expect(loadRulesFile(join(dir, file)).length).toBeGreaterThan(0);
  });

  it('covers the patterns the design asks for', () => {
    const patterns = new Set(loadRulesFile(shippedRulesFile).map((r) => r.pattern));
    for (const pattern of [
      'hung-task',
      'soft-lockup',
      'rcu-stall',
      'oom-kill',
      'kernel-oops',
      'fs-error',
      'io-error',
      'unregister-netdevice',
      'allocation-failure',
      'write-stall',
      'hardware-error',
    ]) {
      expect(patterns).toContain(pattern);
    }
  });

  it('has a sample record for every rule', () => {
    const rules = loadRulesFile(shippedRulesFile);
    const sampled = new Set(samples.filter((s) => (s.matches ?? 1) > 0).map((s) => s.rule));
    expect(rules.map((r) => r.id).filter((id) => !sampled.has(id))).toEqual([]);
  });

  const rules = loadRulesFile(shippedRulesFile);
  for (const sample of samples) {
    const expected = sample.matches ?? 1;
    it(`${sample.rule} matches ${expected} of the records from ${sample.source}`, () => {
      const rule = rules.find((r) => r.id === sample.rule);
      expect(rule, `no rule ${sample.rule}`).toBeDefined();
      const matched = matchRules(parseKmsg(sample.records.join('\n')), [rule!]);
      expect(matched[0]?.count ?? 0).toBe(expected);
    });
  }

  it('hardware errors the hardware could not correct set KernelHardwareError; corrected ones are transient', () => {
    const hardware = loadRulesFile(shippedRulesFile).filter((r) => r.pattern === 'hardware-error');
    const permanent = hardware.filter((r) => r.condition).map((r) => r.id);
    expect(permanent.sort()).toEqual(['edac-uncorrected', 'machine-check-panic', 'machine-check-uncorrected', 'memory-failure', 'pcie-aer-fatal']);
    expect(hardware.every((r) => !r.condition || (r.condition === 'KernelHardwareError' && r.severity === 'critical'))).toBe(true);
  });

  it('fills in defaults: severity warning and the default recommendation', () => {
    const [rule] = compileRules(validFile, 'in test.yaml');
    expect(rule).toMatchObject({ severity: 'warning', recommendation: 'Look at the log.' });
    expect(rule!.match).toBeInstanceOf(RegExp);
  });
});

describe('a bad rules file fails fast, naming the entry and the field', () => {
  it('a regular expression that does not compile', () => {
    const message = errorOf({ ...validFile, rules: [validRule, { ...validRule, id: 'broken', match: 'task (\\d+ blocked' }] });
    expect(message).toMatch(/rule #2 \(id "broken"\), field match: match is not a valid regular expression \(.*Unterminated group/);
  });

  it('a pattern that is not a finding id', () => {
    const message = errorOf({ ...validFile, rules: [{ ...validRule, pattern: 'hung-tasks' }] });
    expect(message).toMatch(/rule #1 \(id "hung-task"\), field pattern: "hung-tasks" is not a finding id; use one of slab-growth, /);
  });

  it('a severity that does not exist', () => {
    expect(errorOf({ ...validFile, rules: [{ ...validRule, severity: 'fatal' }] })).toMatch(
      /rule #1 \(id "hung-task"\), field severity: "fatal" is not a severity; use one of info, warning, critical/,
    );
  });

  it('a stack expression that does not compile, an unknown field and a missing title', () => {
    const { title: _title, ...untitled } = validRule;
    const message = errorOf({ ...validFile, rules: [{ ...untitled, stack: '[jbd2', regex: 'x' }] });
    expect(message).toMatch(/rule #1 \(id "hung-task"\), field stack: stack is not a valid regular expression/);
    expect(message).toMatch(/rule #1 \(id "hung-task"\).*regex/);
    expect(message).toMatch(/rule #1 \(id "hung-task"\), field title: /);
  });

  it('a condition that is not one of ksleuth’s node conditions', () => {
    expect(errorOf({ ...validFile, rules: [{ ...validRule, condition: 'KernelDeadlock' }] })).toMatch(
      /rule #1 \(id "hung-task"\), field condition: "KernelDeadlock" is not a ksleuth node condition; use one of KernelOops, /,
    );
  });

  it('an id used twice', () => {
    expect(errorOf({ ...validFile, rules: [validRule, validRule] })).toMatch(/rule #2 \(id "hung-task"\): the id is used twice/);
  });

  it('a file that is not YAML, or cannot be read, names the file', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'ksleuth-rules-'));
    try {
      await writeFile(join(dir, 'bad.yaml'), 'rules: [\n  - id: x\n');
      expect(() => loadRulesFile(join(dir, 'bad.yaml'))).toThrow(/kernel-log rules file .*bad\.yaml is not valid YAML/);
      expect(() => loadRulesFile(join(dir, 'missing.yaml'))).toThrow(/kernel-log rules file .*missing\.yaml cannot be read/);
      await writeFile(join(dir, 'empty-rules.yaml'), 'defaults:\n  recommendation: r\nrules: []\n');
      expect(() => loadRulesFile(join(dir, 'empty-rules.yaml'))).toThrow(/field rules: /);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
