// Builds the node agent's native addon (node-agent/native/agent-native.c) into
// dist/native/ksleuth-agent.node with the system's C compiler and the Node-API headers from npm
// (node-api-headers). Node-API is ABI-stable: one build loads in Node.js 20 and 24 alike. It
// builds only when the source is newer than the addon. Plain JavaScript, so it runs before
// anything is compiled.
//
//   node hack/build-native.mjs [--required]
// Without a C compiler it prints why and exits 0 (the agent then falls back to dmesg, see
// node-agent/engine/native.ts); --required makes that an error (the agent image).
import { execFileSync } from 'node:child_process';
import { mkdirSync, renameSync, rmSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const source = join(root, 'node-agent', 'native', 'agent-native.c');
const output = join(root, 'dist', 'native', 'ksleuth-agent.node');
const headers = join(root, 'node_modules', 'node-api-headers', 'include');
const required = process.argv.includes('--required');

const mtime = (path) => statSync(path, { throwIfNoEntry: false })?.mtimeMs ?? 0;
if (mtime(output) >= mtime(source)) process.exit(0);

const compiler = process.env.CC || 'cc';
mkdirSync(dirname(output), { recursive: true });
// Written beside and renamed into place: a running agent never loads half an addon.
const temporary = `${output}.${process.pid}.tmp`;
try {
  execFileSync(compiler, ['-shared', '-fPIC', '-O2', '-Wall', '-Wextra', '-Werror', '-I', headers, '-o', temporary, source], { stdio: 'inherit' });
  renameSync(temporary, output);
} catch (error) {
  rmSync(temporary, { force: true });
  const message = `ksleuth: the agent's native addon was not built (${compiler}: ${error.code === 'ENOENT' ? 'not installed' : error.message.split('\n')[0]})`;
  if (required) {
    console.error(message);
    process.exit(1);
  }
  console.error(`${message}; the agent reads the kernel log with dmesg instead`);
}
