// Builds the ksleuth CLI into dist/cli.js (plus dist/cli-chunks/, loaded as commands need them)
// with esbuild: TypeScript stripped and the project's modules bundled, the npm dependencies left
// as imports. It takes well under a second, so bin/ksleuth runs it whenever a source is newer
// than the bundle. Plain JavaScript, so it runs before anything is compiled.
//
//   node hack/build-cli.mjs [--clean]     (--clean: drop every chunk the new bundle does not use, for npm pack)
//   node hack/build-cli.mjs --standalone DIR
//       DIR/cli.js and its chunks with every dependency inside, for archives that ship without
//       node_modules (krew)
import { mkdir, readdir, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const dist = join(root, 'dist');
const chunks = join(dist, 'cli-chunks');
/** Chunks older than this that the new bundle does not use go; a CLI still running may need one. */
const keepOldChunksMs = process.argv.includes('--clean') ? 0 : 24 * 3600_000;

/** The CLI's entry point, split so each command's module is a chunk of its own. */
const common = {
  absWorkingDir: root,
  entryPoints: { cli: 'cli/main.ts' },
  bundle: true,
  splitting: true,
  format: 'esm',
  platform: 'node',
  target: 'node20',
  chunkNames: 'cli-chunks/[name]-[hash]',
  logLevel: 'warning',
};

function failed() {
  // esbuild has printed what failed, with the file and line.
  console.error('ksleuth: the CLI could not be built (see above)');
  process.exit(1);
}

const standalone = process.argv.indexOf('--standalone');
if (standalone > 0) {
  const outdir = process.argv[standalone + 1];
  if (!outdir) throw new Error('--standalone needs the output directory');
  await build({
    ...common,
    outdir,
    // CommonJS dependencies (pino) call require(); an ES module has none of its own.
    banner: { js: "import { createRequire as ksleuthRequire } from 'node:module'; const require = ksleuthRequire(import.meta.url);" },
  }).catch(failed);
  process.exit(0);
}

const result = await build({ ...common, packages: 'external', outdir: dist, write: false }).catch(failed);

// Chunk names carry a hash of their content: new ones never overwrite the chunks a running CLI
// may still import. The entry point is written last and renamed into place, so a CLI started
// meanwhile sees the old bundle or the new one, never half of one.
const entry = join(dist, 'cli.js');
const used = new Set();
for (const file of result.outputFiles) {
  if (file.path === entry) continue;
  used.add(file.path);
  const existing = await stat(file.path).catch(() => undefined);
  if (existing?.size === file.contents.length) continue;
  await writeTemporaryThenRename(file.path, file.contents);
}
await writeTemporaryThenRename(entry, result.outputFiles.find((f) => f.path === entry).contents);

const now = Date.now();
for (const name of await readdir(chunks).catch(() => [])) {
  const path = join(chunks, name);
  if (used.has(path)) continue;
  const info = await stat(path).catch(() => undefined);
  if (info && now - info.mtimeMs >= keepOldChunksMs) await rm(path, { force: true });
}

async function writeTemporaryThenRename(path, contents) {
  await mkdir(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  await writeFile(temporary, contents);
  await rename(temporary, path);
}
