import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { projectRoot } from '../../lib/paths.js';

const documents = [
  'README.md',
  ...readdirSync(join(projectRoot, 'docs'))
    .filter((f) => f.endsWith('.md'))
    .map((f) => `docs/${f}`),
];

/** GitHub's anchor for a heading: lower case, punctuation dropped, blanks to hyphens. */
function slug(heading: string): string {
  return heading
    .toLowerCase()
    .replace(/[`*_]/g, '')
    .replace(/[^\p{L}\p{N} -]/gu, '')
    .replace(/ /g, '-');
}

function anchors(file: string): Set<string> {
  const text = readFileSync(join(projectRoot, file), 'utf8').replace(/```[\s\S]*?```/g, '');
  return new Set([...text.matchAll(/^#{1,6} (.+)$/gm)].map((m) => slug(m[1]!.trim())));
}

/** "empty" in the guide: an empty string or list, or an object of nothing but empty ones. */
function isEmpty(value: unknown): boolean {
  if (value === '' || value === null) return true;
  if (Array.isArray(value)) return value.length === 0;
  return typeof value === 'object' && Object.values(value as object).every(isEmpty);
}

describe('the documentation', () => {
  it('links only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of documents) {
      const text = readFileSync(join(projectRoot, file), 'utf8').replace(/```[\s\S]*?```/g, '');
      for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        if (/^[a-z]+:/.test(target!)) continue;
        const [path, anchor] = target!.split('#') as [string, string | undefined];
        const resolved = path ? relative(projectRoot, join(projectRoot, dirname(file), path)) : file;
        if (!existsSync(join(projectRoot, resolved))) broken.push(`${file}: ${target} (no ${resolved})`);
        else if (anchor && resolved.endsWith('.md') && !anchors(resolved).has(anchor)) broken.push(`${file}: ${target} (no heading #${anchor} in ${resolved})`);
      }
    }
    expect(broken).toEqual([]);
  });

  it('gives the chart’s defaults in the install guide’s table of values', () => {
    const values = parse(readFileSync(join(projectRoot, 'charts/ksleuth/values.yaml'), 'utf8')) as Record<string, unknown>;
    const lookup = (path: string): unknown => path.split('.').reduce<unknown>((at, key) => (at as Record<string, unknown> | undefined)?.[key], values);
    const install = readFileSync(join(projectRoot, 'docs/install.md'), 'utf8');
    const rows = [...install.matchAll(/^\| (`[^|]+`) \| ([^|]+) \| [^|]+ \|$/gm)];
    expect(rows.length).toBeGreaterThan(5);
    const wrong: string[] = [];
    for (const [, keys, defaults] of rows) {
      const names = [...keys!.matchAll(/`([^`]+)`/g)].map((m) => m[1]!);
      const shown = defaults!.split(' / ').map((d) => d.trim());
      names.forEach((name, i) => {
        const actual = lookup(name);
        const text = shown[i] ?? '';
        const expected = text === 'empty' ? isEmpty(actual) : JSON.stringify(parse(text.replace(/`/g, ''))) === JSON.stringify(actual);
        if (actual === undefined) wrong.push(`${name}: not a value of the chart`);
        else if (!expected) wrong.push(`${name}: the guide says ${text}, the chart has ${JSON.stringify(actual)}`);
      });
    }
    expect(wrong).toEqual([]);
  });
});
