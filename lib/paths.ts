import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The project's root directory, wherever the code runs from: the sources (lib/), the compiled
 * tree (dist/lib/), the CLI bundle (dist/cli.js and its chunks) or an installed package
 * (node_modules/ksleuth/dist/). It is the nearest directory above this file with a package.json.
 */
export const projectRoot = findRoot(dirname(fileURLToPath(import.meta.url)));

function findRoot(start: string): string {
  for (let dir = start; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'package.json'))) return dir;
    if (dirname(dir) === dir) throw new Error(`no package.json above ${start}: ksleuth's files are incomplete, reinstall it`);
  }
}
