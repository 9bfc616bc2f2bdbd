/** One regular file of a tar archive. */
export interface TarEntry {
  name: string;
  data: Buffer;
  /** Modification time, ms since the epoch. */
  mtimeMs: number;
}

const block = 512;

function field(header: Buffer, offset: number, length: number): string {
  const raw = header.subarray(offset, offset + length);
  const end = raw.indexOf(0);
  return raw.subarray(0, end < 0 ? raw.length : end).toString('utf8');
}

function octal(header: Buffer, offset: number, length: number): number {
  const text = field(header, offset, length).trim();
  return text === '' ? 0 : Number.parseInt(text, 8);
}

/** Whether the bytes start with a POSIX (ustar) or GNU tar header. */
export function isTar(bytes: Buffer): boolean {
  return bytes.length >= block && bytes.subarray(257, 262).toString('latin1') === 'ustar';
}

/** pax extended header records: "LEN key=value\n". */
function paxPath(data: Buffer): string | undefined {
  for (const record of data.toString('utf8').split('\n')) {
    const m = /^\d+ path=(.*)$/.exec(record);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * The regular files of an uncompressed tar archive (ustar, GNU and pax, as `tar -czf` writes
 * them), in archive order. Throws on a truncated archive. Pure.
 */
export function readTar(bytes: Buffer): TarEntry[] {
  const entries: TarEntry[] = [];
  let longName: string | undefined;
  for (let at = 0; at + block <= bytes.length; ) {
    const header = bytes.subarray(at, at + block);
    if (header.every((b) => b === 0)) break;
    const size = octal(header, 124, 12);
    const type = String.fromCharCode(header[156] ?? 0);
    const start = at + block;
    if (start + size > bytes.length) throw new Error(`the tar archive is truncated: "${field(header, 0, 100)}" needs ${size} bytes`);
    const data = bytes.subarray(start, start + size);
    at = start + Math.ceil(size / block) * block;
    if (type === 'L') {
      longName = data.toString('utf8').replace(/\0+$/, '');
      continue;
    }
    if (type === 'x') {
      longName = paxPath(data) ?? longName;
      continue;
    }
    const prefix = field(header, 345, 155);
    const name = longName ?? (prefix ? `${prefix}/${field(header, 0, 100)}` : field(header, 0, 100));
    longName = undefined;
    if (type === '0' || type === '\0' || type === '7') entries.push({ name, data: Buffer.from(data), mtimeMs: octal(header, 136, 12) * 1000 });
  }
  return entries;
}
