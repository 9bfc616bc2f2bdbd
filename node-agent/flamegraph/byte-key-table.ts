/** What `get` returns for a key that is not in the table. */
export const absent = -0x80000000;

/**
 * A hash table from byte strings (a range of a Buffer) to small integers, for the collapser's
 * per-line caches: looking a line up costs a hash over its bytes and one memcmp, and no string
 * is made. Keys are copied into one arena; `full` says when it should not grow further.
 */
export class ByteKeyTable {
  private arena = Buffer.allocUnsafe(1 << 16);
  private arenaUsed = 0;
  private slotHash = new Int32Array(1 << 10);
  private slotOffset = new Int32Array(1 << 10);
  private slotLength = new Int32Array(1 << 10).fill(-1);
  private slotValue = new Int32Array(1 << 10);
  private count = 0;

  constructor(private readonly maxEntries: number) {}

  get size(): number {
    return this.count;
  }

  get full(): boolean {
    return this.count >= this.maxEntries;
  }

  get(bytes: Buffer, start: number, end: number, hash: number): number {
    const mask = this.slotLength.length - 1;
    const length = end - start;
    for (let slot = hash & mask; ; slot = (slot + 1) & mask) {
      const stored = this.slotLength[slot]!;
      if (stored < 0) return absent;
      if (stored === length && this.slotHash[slot] === hash) {
        // A loop, not Buffer#compare: for lines this short the native call costs more than it saves.
        const arena = this.arena;
        let i = 0;
        for (let a = this.slotOffset[slot]!; i < length && arena[a + i] === bytes[start + i]; ) i++;
        if (i === length) return this.slotValue[slot]!;
      }
    }
  }

  /** Adds a key known to be absent. */
  set(bytes: Buffer, start: number, end: number, hash: number, value: number): void {
    const length = end - start;
    if (this.arenaUsed + length > this.arena.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.arena.length * 2, this.arenaUsed + length));
      this.arena.copy(bigger, 0, 0, this.arenaUsed);
      this.arena = bigger;
    }
    bytes.copy(this.arena, this.arenaUsed, start, end);
    this.insert(hash, this.arenaUsed, length, value);
    this.arenaUsed += length;
    if (++this.count * 2 > this.slotLength.length) this.grow();
  }

  private insert(hash: number, offset: number, length: number, value: number): void {
    const mask = this.slotLength.length - 1;
    let slot = hash & mask;
    while (this.slotLength[slot]! >= 0) slot = (slot + 1) & mask;
    this.slotHash[slot] = hash;
    this.slotOffset[slot] = offset;
    this.slotLength[slot] = length;
    this.slotValue[slot] = value;
  }

  private grow(): void {
    const [hashes, offsets, lengths, values] = [this.slotHash, this.slotOffset, this.slotLength, this.slotValue];
    const size = lengths.length * 2;
    this.slotHash = new Int32Array(size);
    this.slotOffset = new Int32Array(size);
    this.slotLength = new Int32Array(size).fill(-1);
    this.slotValue = new Int32Array(size);
    for (let i = 0; i < lengths.length; i++) if (lengths[i]! >= 0) this.insert(hashes[i]!, offsets[i]!, lengths[i]!, values[i]!);
  }
}

/** FNV-1a over bytes [start, end). */
export function hashBytes(bytes: Uint8Array, start: number, end: number): number {
  let hash = 0x811c9dc5;
  for (let i = start; i < end; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  return hash;
}

/**
 * A cheaper hash for perf script frame lines: their first 24 bytes after the indentation (the
 * address and the start of the symbol), their last 8 bytes (the module) and their length. Lines
 * that share all of these only cost the table a longer comparison.
 */
export function hashFrameLine(bytes: Uint8Array, start: number, end: number): number {
  let i = start;
  while (i < end && (bytes[i] === 0x20 || bytes[i] === 0x09)) i++;
  const head = Math.min(end, i + 24);
  let hash = Math.imul(0x811c9dc5 ^ (end - start), 0x01000193);
  for (; i < head; i++) hash = Math.imul(hash ^ bytes[i]!, 0x01000193);
  for (let j = Math.max(head, end - 8); j < end; j++) hash = Math.imul(hash ^ bytes[j]!, 0x01000193);
  return hash;
}
