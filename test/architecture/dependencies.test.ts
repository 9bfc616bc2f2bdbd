import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

const productFolders = ['api', 'lib', 'runtime', 'operator', 'node-agent', 'cli', 'bin'];
const toolingFolders = ['test', 'hack', 'bench'];

function sources(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return entry.name === 'node_modules' ? [] : sources(path);
    return /\.(ts|js|mjs)$/.test(entry.name) || dir === 'bin' ? [path] : [];
  });
}

/** The packages a set of files imports (bare specifiers, without subpaths). */
function importedPackages(folders: string[]): Set<string> {
  const names = new Set<string>();
  for (const file of folders.flatMap(sources)) {
    const text = readFileSync(join(projectRoot, file), 'utf8');
    for (const match of text.matchAll(/(?:from\s+|import\(\s*|require\(\s*)['"]([^'".][^'"]*)['"]/g)) {
      const specifier = match[1]!;
      if (specifier.startsWith('node:')) continue;
      names.add(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!);
    }
  }
  return names;
}

const manifest = JSON.parse(readFileSync(join(projectRoot, 'package.json'), 'utf8')) as {
  dependencies: Record<string, string>;
  devDependencies: Record<string, string>;
};

describe('package.json', () => {
  it('lists as dependencies only packages the product imports', () => {
    const used = importedPackages(productFolders);
    expect(Object.keys(manifest.dependencies).filter((name) => !used.has(name))).toEqual([]);
  });

  it('lists type packages only for packages something imports', () => {
    const used = new Set([...importedPackages([...productFolders, ...toolingFolders]), 'node']);
    const unused = Object.keys(manifest.devDependencies)
      .filter((name) => name.startsWith('@types/'))
      .filter((name) => !used.has(name.slice('@types/'.length)));
    expect(unused).toEqual([]);
  });
});
