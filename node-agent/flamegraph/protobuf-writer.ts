/**
 * Just enough of the protocol buffers wire format to write a message: varints, length-delimited
 * fields and packed repeated integers. Values are non-negative integers (bigints past 2^53).
 */
export class ProtobufWriter {
  private buffer = Buffer.allocUnsafe(1 << 12);
  private length = 0;

  /** A varint field; zero, the default, is left out. */
  uint(field: number, value: number | bigint): this {
    if (value === 0 || value === 0n) return this;
    this.varint(field * 8);
    this.varint(value);
    return this;
  }

  /** A length-delimited field: a string, or a nested message's bytes. */
  bytes(field: number, value: Uint8Array | string): this {
    const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
    this.varint(field * 8 + 2);
    this.varint(bytes.length);
    this.reserve(bytes.length);
    this.buffer.set(bytes, this.length);
    this.length += bytes.length;
    return this;
  }

  message(field: number, write: (message: ProtobufWriter) => void): this {
    const nested = new ProtobufWriter();
    write(nested);
    return this.bytes(field, nested.finish());
  }

  /** A packed repeated varint field (one length-delimited run), left out when empty. */
  packed(field: number, values: readonly number[]): this {
    if (values.length === 0) return this;
    const run = new ProtobufWriter();
    for (const value of values) run.varint(value);
    return this.bytes(field, run.finish());
  }

  finish(): Buffer {
    return this.buffer.subarray(0, this.length);
  }

  private varint(value: number | bigint): void {
    if (typeof value === 'bigint') {
      if (value < 0n || value >= 1n << 64n) throw new RangeError(`protobuf varint out of range: ${value}`);
      this.reserve(10);
      let rest = value;
      while (rest >= 0x80n) {
        this.buffer[this.length++] = Number(rest & 0x7fn) | 0x80;
        rest >>= 7n;
      }
      this.buffer[this.length++] = Number(rest);
      return;
    }
    if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`protobuf varint out of range: ${value}`);
    this.reserve(10);
    let rest = value;
    while (rest >= 0x80) {
      this.buffer[this.length++] = (rest % 0x80) | 0x80;
      rest = Math.floor(rest / 0x80);
    }
    this.buffer[this.length++] = rest;
  }

  private reserve(bytes: number): void {
    if (this.length + bytes <= this.buffer.length) return;
    const bigger = Buffer.allocUnsafe(Math.max(this.buffer.length * 2, this.length + bytes));
    this.buffer.copy(bigger, 0, 0, this.length);
    this.buffer = bigger;
  }
}
