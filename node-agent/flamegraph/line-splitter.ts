/**
 * Splits a byte stream into lines without their "\n", as byte strings (latin1: one char per
 * byte, so any input round-trips exactly). A last line without a newline is still a line.
 * Lines are found in the bytes (memchr) and only each line is turned into a string.
 */
export class LineSplitter {
  /** The start of a line the previous chunk ended in. */
  private rest: Buffer | undefined;

  push(chunk: Buffer, onLine: (line: string) => void): void {
    this.pushBytes(chunk, (bytes, start, end) => onLine(bytes.toString('latin1', start, end)));
  }

  end(onLine: (line: string) => void): void {
    this.endBytes((bytes, start, end) => onLine(bytes.toString('latin1', start, end)));
  }

  /** The same, without making strings: each line is a range of a buffer, valid during the call. */
  pushBytes(chunk: Buffer, onLine: (bytes: Buffer, start: number, end: number) => void): void {
    let start = 0;
    let end = chunk.indexOf(10);
    if (this.rest !== undefined) {
      if (end < 0) {
        this.rest = Buffer.concat([this.rest, chunk]);
        return;
      }
      const joined = Buffer.concat([this.rest, chunk.subarray(0, end)]);
      this.rest = undefined;
      onLine(joined, 0, joined.length);
      start = end + 1;
      end = chunk.indexOf(10, start);
    }
    while (end >= 0) {
      onLine(chunk, start, end);
      start = end + 1;
      end = chunk.indexOf(10, start);
    }
    // A copy: the stream may reuse the chunk's memory.
    if (start < chunk.length) this.rest = Buffer.from(chunk.subarray(start));
  }

  endBytes(onLine: (bytes: Buffer, start: number, end: number) => void): void {
    const rest = this.rest;
    this.rest = undefined;
    if (rest !== undefined && rest.length > 0) onLine(rest, 0, rest.length);
  }
}

/** Feeds every line of a byte stream to `onLine`; memory stays at one chunk plus one line. */
export async function forEachLine(input: AsyncIterable<Buffer | string>, onLine: (bytes: Buffer, start: number, end: number) => void): Promise<void> {
  const lines = new LineSplitter();
  for await (const chunk of input) lines.pushBytes(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk, onLine);
  lines.endBytes(onLine);
}
