import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

/** Folders that are not the project's own text: installed packages, Git's store, build output. */
const skipped = new Set(['node_modules', '.git', 'dist']);

function files(dir: string): string[] {
  return readdirSync(join(projectRoot, dir), { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return skipped.has(entry.name) ? [] : files(path);
    return entry.isFile() ? [path] : [];
  });
}

describe('the source tree', () => {
  it('holds no merge conflict left unresolved', () => {
    const conflicted = files('.').filter((file) => /^(<{7}|>{7}) /m.test(readFileSync(join(projectRoot, file), 'latin1')));
    expect(conflicted).toEqual([]);
  });
});
