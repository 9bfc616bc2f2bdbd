import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';

/** The text of a recorded fixture under test/fixtures/<kind>/. */
export function fixture(kind: string, name: string): string {
  return readFileSync(join(projectRoot, 'test', 'fixtures', kind, name), 'utf8');
}
