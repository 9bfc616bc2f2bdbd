import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { laneOf, lanes } from '../lanes.js';

function files(dir: string, suffix: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = `${dir}/${entry.name}`;
    if (entry.isDirectory()) return files(path, suffix);
    return entry.name.endsWith(suffix) ? [path] : [];
  });
}

/** What a unit test may not reach: a control plane, the real kernel through a capture run, child processes, Go tools. */
const needsRealParts = [
  'node:child_process',
  'test/harness/',
  'test/helpers/cluster.ts',
  'test/helpers/ksleuth.ts',
  'test/node-agent/captures/real-run.ts',
  'test/runtime/promcheck.ts',
];

/** Module specifiers a file imports: node builtins as written, relative ones resolved to project paths. */
function importsOf(file: string): string[] {
  const text = readFileSync(join(projectRoot, file), 'utf8');
  return [...text.matchAll(/(?:^|\n)\s*(?:import|export)\s[^'"]*?from\s*['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((match) => {
    const specifier = (match[1] ?? match[2])!;
    if (!specifier.startsWith('.')) return specifier;
    return relative(projectRoot, resolve(projectRoot, dirname(file), specifier)).replace(/\.js$/, '.ts');
  });
}

/** What a test file reaches through the test helpers it imports (product code is not followed). */
function reachedFrom(file: string, seen = new Set<string>()): Set<string> {
  for (const target of importsOf(file)) {
    if (seen.has(target)) continue;
    seen.add(target);
    if (target.startsWith('test/') && existsSync(join(projectRoot, target))) reachedFrom(target, seen);
  }
  return seen;
}

describe('test lanes (test/lanes.ts)', () => {
  const testFiles = files('test', '.test.ts');

  it('every glob of every lane matches a test file', () => {
    for (const lane of lanes) {
      for (const glob of lane.include) {
        expect(
          testFiles.some((file) => laneOf(file) === lane && lane.include.includes(glob)),
          `lane ${lane.name}: ${glob} matches no test file`,
        ).toBe(true);
      }
    }
  });

  it('keeps the unit lane free of real parts: a test that needs one is listed in its lane', () => {
    const offenders = testFiles
      .filter((file) => laneOf(file).name === 'unit')
      .flatMap((file) =>
        [...reachedFrom(file)].filter((target) => needsRealParts.some((part) => target.startsWith(part))).map((target) => `${file} → ${target}`),
      );
    expect(offenders).toEqual([]);
  });
});
