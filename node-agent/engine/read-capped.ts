import { open } from 'node:fs/promises';

/**
 * Reads a file up to maxBytes; procfs files report size 0, so it reads until end of file.
 * seq_file reads (procfs, tracefs) return about a page each: the bytes are copied out of one
 * buffer, so that a chunk does not hold on to a whole read buffer.
 */
export async function readCapped(path: string, maxBytes: number): Promise<{ data: Buffer; truncated: boolean }> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(256 * 1024);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const { bytesRead } = await handle.read(buffer, 0, Math.min(buffer.length, maxBytes + 1 - total), null);
      if (bytesRead === 0) break;
      chunks.push(Buffer.from(buffer.subarray(0, bytesRead)));
      total += bytesRead;
      if (total > maxBytes) break;
    }
    const data = Buffer.concat(chunks);
    return data.length > maxBytes ? { data: data.subarray(0, maxBytes), truncated: true } : { data, truncated: false };
  } finally {
    await handle.close();
  }
}
