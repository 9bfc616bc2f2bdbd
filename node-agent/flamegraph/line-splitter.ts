/**
 * Splits a byte stream into lines without their "\n", as byte strings (latin1: one char per
 * byte, so any input round-trips exactly). A last line without a newline is still a line.
 */
export class LineSplitter {
  private rest = '';

  push(chunk: Buffer, onLine: (line: string) => void): void {
    const text = this.rest + chunk.toString('latin1');
    let start = 0;
    for (let end = text.indexOf('\n'); end !== -1; end = text.indexOf('\n', start)) {
      onLine(text.slice(start, end));
      start = end + 1;
    }
    this.rest = text.slice(start);
  }

  end(onLine: (line: string) => void): void {
    if (this.rest.length > 0) onLine(this.rest);
    this.rest = '';
  }
}

/** Feeds every line of a byte stream to `onLine`; memory stays at one chunk plus one line. */
export async function forEachLine(input: AsyncIterable<Buffer | string>, onLine: (line: string) => void): Promise<void> {
  const lines = new LineSplitter();
  for await (const chunk of input) {
    lines.push(typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk, onLine);
  }
  lines.end(onLine);
}
