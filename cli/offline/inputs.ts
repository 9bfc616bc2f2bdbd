import { readdir, readFile, stat } from 'node:fs/promises';
import { basename, join, relative } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { isTar, readTar } from './tar.js';

/** One text to analyze: a file, standard input, or a file inside an archive. */
export interface Input {
  /** How it is named in the output: a path, "-", or "archive.tar.gz:dir/file". */
  name: string;
  /** The file name alone, which tells a bundle's items apart (slabinfo.txt). */
  file: string;
  /** Inputs that belong together (a directory, an archive's folder): snapshots of one machine. */
  group: string;
  text: string;
  /** When it was written, where known (ms since the epoch). */
  mtimeMs?: number;
}

/** An input that was not analyzed, and why. */
export interface Skipped {
  name: string;
  reason: string;
}

/** A path that cannot be analyzed at all: the CLI prints it and exits 1. */
export class InputError extends Error {
  override name = 'InputError';
}

/** The most that is read of one input. */
export const maxInputBytes = 1024 ** 3;
const maxFiles = 10_000;

/** Why bytes are not text: NUL bytes, or mostly invalid UTF-8. */
export function binaryReason(bytes: Buffer): string | undefined {
  const head = bytes.subarray(0, 64 * 1024);
  if (head.includes(0)) return 'it is a binary file (it holds NUL bytes)';
  const text = head.toString('utf8');
  const invalid = (text.match(/\uFFFD/g) ?? []).length;
  return invalid > head.length / 100 ? 'it is a binary file (it is not UTF-8 text)' : undefined;
}

function isGzip(bytes: Buffer): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

function dirOf(name: string): string {
  const slash = name.lastIndexOf('/');
  return slash < 0 ? '' : name.slice(0, slash);
}

/** Turns bytes into inputs: text as is, a gzip file unpacked, a tar archive (a bundle) into its files. */
function unpack(name: string, bytes: Buffer, group: string, mtimeMs: number | undefined, skipped: Skipped[]): Input[] {
  if (bytes.length === 0) {
    skipped.push({ name, reason: 'it is empty' });
    return [];
  }
  let data = bytes;
  if (isGzip(data)) {
    try {
      data = gunzipSync(data, { maxOutputLength: maxInputBytes });
    } catch (error) {
      skipped.push({ name, reason: `it is gzip data that cannot be unpacked (${(error as Error).message})` });
      return [];
    }
  }
  if (isTar(data)) {
    let entries: ReturnType<typeof readTar>;
    try {
      entries = readTar(data);
    } catch (error) {
      skipped.push({ name, reason: (error as Error).message });
      return [];
    }
    return entries.flatMap((entry) => unpack(`${name}:${entry.name}`, entry.data, `${name}:${dirOf(entry.name)}`, entry.mtimeMs, skipped));
  }
  const binary = binaryReason(data);
  if (binary) {
    skipped.push({ name, reason: binary });
    return [];
  }
  const file = basename(name.includes(':') ? name.slice(name.lastIndexOf(':') + 1) : name);
  return [{ name, file, group, text: data.toString('utf8'), ...(mtimeMs !== undefined ? { mtimeMs } : {}) }];
}

async function filesUnder(dir: string, into: string[]): Promise<void> {
  const entries = await readdir(dir, { withFileTypes: true });
  for (const entry of entries.sort((a, b) => a.name.localeCompare(b.name))) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    if (entry.isDirectory()) await filesUnder(path, into);
    else if (entry.isFile()) into.push(path);
    if (into.length > maxFiles) throw new InputError(`${dir} holds more than ${maxFiles} files: point analyze at the folder of one machine or bundle`);
  }
}

function explain(path: string, error: unknown): string {
  const code = (error as NodeJS.ErrnoException).code;
  const what =
    code === 'ENOENT'
      ? 'no such file or directory'
      : code === 'EACCES'
        ? 'permission denied'
        : code === 'EISDIR'
          ? 'it is a directory'
          : ((error as Error).message ?? String(error));
  return `cannot read ${path}: ${what}`;
}

async function readCapped(path: string, size: number): Promise<Buffer> {
  if (size > maxInputBytes) throw new InputError(`${path} is ${size} bytes, more than analyze reads (${maxInputBytes}); cut it to the part that matters`);
  return readFile(path);
}

/**
 * The inputs at a path: a file, every file under a directory (bundles and archives unpacked), or
 * standard input for "-". A path that cannot be read, or a single file that is empty or binary,
 * is an InputError; inside a directory or archive such files are skipped with the reason.
 */
export async function readInputs(path: string, stdin: AsyncIterable<Buffer> = process.stdin): Promise<{ inputs: Input[]; skipped: Skipped[] }> {
  const skipped: Skipped[] = [];
  if (path === '-') {
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of stdin) {
      size += chunk.length;
      if (size > maxInputBytes) throw new InputError(`standard input is more than ${maxInputBytes} bytes; cut it to the part that matters`);
      chunks.push(chunk);
    }
    const inputs = unpack('-', Buffer.concat(chunks), '-', undefined, skipped);
    if (inputs.length === 0) throw new InputError(`standard input cannot be analyzed: ${skipped[0]?.reason ?? 'it holds nothing'}`);
    return { inputs, skipped };
  }
  let info: Awaited<ReturnType<typeof stat>>;
  try {
    info = await stat(path);
  } catch (error) {
    throw new InputError(explain(path, error));
  }
  if (info.isDirectory()) {
    const files: string[] = [];
    try {
      await filesUnder(path, files);
    } catch (error) {
      if (error instanceof InputError) throw error;
      throw new InputError(explain(path, error));
    }
    if (files.length === 0) throw new InputError(`${path} is an empty directory`);
    const inputs: Input[] = [];
    for (const file of files) {
      const name = relative(process.cwd(), file) || file;
      try {
        const fileInfo = await stat(file);
        inputs.push(...unpack(name, await readCapped(file, fileInfo.size), dirOf(name), fileInfo.mtimeMs, skipped));
      } catch (error) {
        skipped.push({ name, reason: error instanceof InputError ? error.message : explain(name, error) });
      }
    }
    return { inputs, skipped };
  }
  let bytes: Buffer;
  try {
    bytes = await readCapped(path, info.size);
  } catch (error) {
    throw error instanceof InputError ? error : new InputError(explain(path, error));
  }
  const inputs = unpack(path, bytes, dirOf(path), info.mtimeMs, skipped);
  if (inputs.length === 0) throw new InputError(`${path} cannot be analyzed: ${skipped[0]?.reason ?? 'it holds nothing'}`);
  return { inputs, skipped };
}
