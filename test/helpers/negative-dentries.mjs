// Creates negative dentries at a steady rate: stat() of names that do not exist in a directory of
// its own, N per tick. Removing the directory afterwards frees them (rmdir prunes its dentries).
// Usage: node negative-dentries.mjs DIR PER_SECOND
import { statSync } from 'node:fs';
import { join } from 'node:path';

const [dir, perSecond] = [process.argv[2], Number(process.argv[3])];
const tickMs = 100;
const perTick = Math.max(1, Math.round((perSecond * tickMs) / 1000));
let n = 0;
setInterval(() => {
  for (let i = 0; i < perTick; i++) {
    try {
      statSync(join(dir, `missing-${n++}`));
    } catch {}
  }
}, tickMs);
