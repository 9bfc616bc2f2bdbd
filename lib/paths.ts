import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The project's root directory, wherever the code runs from (source or dist). */
export const projectRoot = findRoot();

function findRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  // lib/ in the source tree, dist/lib/ when compiled.
  return here.endsWith(join('dist', 'lib')) ? join(here, '..', '..') : join(here, '..');
}
