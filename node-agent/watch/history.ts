import { crc32 } from 'node:zlib';
import type { TierConfig } from './config.js';

/** One point of a series: the mean of the samples in the step that starts at atMs. */
export interface Point {
  atMs: number;
  value: number;
}

/**
 * One resolution of the history: a ring of `points` steps of `stepMs`, shared by every series
 * (a step's slot is cleared for all series when the ring comes round to it again).
 */
class Tier {
  readonly stepMs: number;
  readonly points: number;
  /** The start time of the step each slot holds; NaN for a slot never written. */
  readonly slotStart: Float64Array;
  readonly values = new Map<string, Float32Array>();
  /** The step each series is averaging now and how many samples it has. */
  private readonly open = new Map<string, { step: number; samples: number }>();

  constructor(config: TierConfig) {
    this.stepMs = config.stepSeconds * 1000;
    this.points = config.points;
    this.slotStart = new Float64Array(this.points).fill(Number.NaN);
  }

  get spanMs(): number {
    return this.stepMs * (this.points - 1);
  }

  add(name: string): void {
    this.values.set(name, new Float32Array(this.points).fill(Number.NaN));
  }

  remove(name: string): void {
    this.values.delete(name);
    this.open.delete(name);
  }

  record(name: string, atMs: number, value: number): void {
    const step = Math.floor(atMs / this.stepMs);
    const slot = step % this.points;
    const start = step * this.stepMs;
    const held = this.slotStart[slot]!;
    if (held > start) return; // a sample older than the ring's turn (the clock went back)
    if (held !== start) {
      this.slotStart[slot] = start;
      for (const series of this.values.values()) series[slot] = Number.NaN;
    }
    const series = this.values.get(name)!;
    let open = this.open.get(name);
    if (open?.step !== step) {
      open = { step, samples: 0 };
      this.open.set(name, open);
    }
    series[slot] = open.samples === 0 ? value : series[slot]! + (value - series[slot]!) / (open.samples + 1);
    open.samples++;
  }

  range(name: string, fromMs: number, toMs: number): Point[] {
    const series = this.values.get(name);
    if (!series) return [];
    const points: Point[] = [];
    const first = Math.max(Math.floor(fromMs / this.stepMs), Math.floor(toMs / this.stepMs) - this.points + 1);
    for (let step = first; step * this.stepMs <= toMs; step++) {
      const slot = step % this.points;
      const value = series[slot]!;
      if (this.slotStart[slot] === step * this.stepMs && !Number.isNaN(value)) points.push({ atMs: step * this.stepMs, value });
    }
    return points;
  }

  earliest(): number | undefined {
    let min = Number.POSITIVE_INFINITY;
    for (const start of this.slotStart) if (start < min) min = start;
    return Number.isFinite(min) ? min : undefined;
  }
}

/** What the history file's header holds besides the series. */
export interface HistoryHeader {
  version: 1;
  savedAtMs: number;
  tiers: TierConfig[];
  series: { name: string; lastUpdatedMs: number }[];
}

const magic = Buffer.from('KSWH');

/** A history file that cannot be read back; the message says what is wrong with it. */
export class HistoryFileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'HistoryFileError';
  }
}

/**
 * The watch's bounded, downsampled history: every series in every tier (for example one-minute
 * points for a day and ten-minute points for thirty days), each point the mean of the samples in
 * its step. Its size is fixed by the tiers and maxSeries: series beyond maxSeries push out the
 * one updated least recently. Values are kept as 32-bit floats.
 */
export class History {
  private readonly tiers: Tier[];
  private readonly lastUpdated = new Map<string, number>();

  constructor(
    readonly tierConfig: TierConfig[],
    readonly maxSeries: number,
  ) {
    this.tiers = tierConfig.map((t) => new Tier(t));
  }

  get seriesCount(): number {
    return this.lastUpdated.size;
  }

  seriesNames(): string[] {
    return [...this.lastUpdated.keys()];
  }

  /** Adds a sample taken at atMs. Values that are not finite numbers are left out. */
  record(name: string, atMs: number, value: number): void {
    if (!Number.isFinite(value)) return;
    if (!this.lastUpdated.has(name)) {
      if (this.lastUpdated.size >= this.maxSeries) this.evictLeastRecent();
      for (const tier of this.tiers) tier.add(name);
    }
    this.lastUpdated.delete(name);
    this.lastUpdated.set(name, atMs);
    for (const tier of this.tiers) tier.record(name, atMs, value);
  }

  private evictLeastRecent(): void {
    // lastUpdated is kept in update order: its first key is the least recently updated series.
    const oldest = this.lastUpdated.keys().next().value as string;
    this.lastUpdated.delete(oldest);
    for (const tier of this.tiers) tier.remove(oldest);
  }

  /**
   * The points of a series between fromMs and toMs from the finest tier whose ring still reaches
   * back to fromMs, with that tier's step.
   */
  range(name: string, fromMs: number, toMs: number): { stepSeconds: number; points: Point[] } {
    const tier = this.tiers.find((t) => toMs - fromMs <= t.spanMs) ?? this.tiers.at(-1)!;
    return { stepSeconds: tier.stepMs / 1000, points: tier.range(name, fromMs, toMs) };
  }

  /** When the oldest point still held was taken. */
  since(): number | undefined {
    const earliest = this.tiers.map((t) => t.earliest()).filter((t): t is number => t !== undefined);
    return earliest.length > 0 ? Math.min(...earliest) : undefined;
  }

  /** The size of the encoded history: fixed by the tiers and the series held. */
  encodedBytes(): number {
    return this.encode(0).length;
  }

  /**
   * The history as bytes: "KSWH", the header length, a JSON header, each tier's slot times
   * (float64) and series (float32), and a CRC-32 of all that.
   */
  encode(savedAtMs: number): Buffer {
    const names = [...this.lastUpdated.keys()];
    const header: HistoryHeader = {
      version: 1,
      savedAtMs,
      tiers: this.tierConfig,
      series: names.map((name) => ({ name, lastUpdatedMs: this.lastUpdated.get(name)! })),
    };
    const headerBytes = Buffer.from(JSON.stringify(header));
    const length = Buffer.alloc(4);
    length.writeUInt32LE(headerBytes.length);
    const parts: Buffer[] = [magic, length, headerBytes];
    for (const tier of this.tiers) {
      parts.push(Buffer.from(tier.slotStart.buffer, tier.slotStart.byteOffset, tier.slotStart.byteLength));
      for (const name of names) {
        const series = tier.values.get(name)!;
        parts.push(Buffer.from(series.buffer, series.byteOffset, series.byteLength));
      }
    }
    const body = Buffer.concat(parts);
    const checksum = Buffer.alloc(4);
    checksum.writeUInt32LE(crc32(body));
    return Buffer.concat([body, checksum]);
  }

  /**
   * Reads an encoded history back into one with the given tiers. A tier whose step or size
   * changed since it was written starts empty (`dropped` names it); anything else that does not
   * add up throws HistoryFileError.
   */
  static decode(buffer: Buffer, tiers: TierConfig[], maxSeries: number): { history: History; savedAtMs: number; dropped: string[] } {
    if (buffer.length < 12 || !buffer.subarray(0, 4).equals(magic)) throw new HistoryFileError('it does not start with the KSWH marker');
    const body = buffer.subarray(0, buffer.length - 4);
    if (crc32(body) !== buffer.readUInt32LE(buffer.length - 4)) throw new HistoryFileError('its checksum does not match (a torn or damaged write)');
    const headerLength = body.readUInt32LE(4);
    let header: HistoryHeader;
    try {
      header = JSON.parse(body.toString('utf8', 8, 8 + headerLength)) as HistoryHeader;
    } catch (error) {
      throw new HistoryFileError(`its header is not JSON: ${(error as Error).message}`);
    }
    if (header.version !== 1 || !Array.isArray(header.tiers) || !Array.isArray(header.series))
      throw new HistoryFileError(`its header version ${String(header.version)} is unknown`);
    const expected = 8 + headerLength + header.tiers.reduce((n, t) => n + t.points * (8 + 4 * header.series.length), 0);
    if (expected !== body.length) throw new HistoryFileError(`it holds ${body.length} bytes where its header describes ${expected}`);
    const history = new History(tiers, maxSeries);
    const kept = header.series.slice(-maxSeries);
    for (const { name, lastUpdatedMs } of kept) {
      history.lastUpdated.set(name, lastUpdatedMs);
      for (const tier of history.tiers) tier.add(name);
    }
    const dropped: string[] = [];
    let offset = 8 + headerLength;
    header.tiers.forEach((saved, i) => {
      const tier = history.tiers[i];
      const bytes = saved.points * (8 + 4 * header.series.length);
      if (!tier || tier.stepMs !== saved.stepSeconds * 1000 || tier.points !== saved.points) {
        dropped.push(`${saved.stepSeconds}s × ${saved.points}`);
        offset += bytes;
        return;
      }
      // Copied out: typed arrays need aligned offsets, which a file's layout does not promise.
      const copy = (length: number): ArrayBuffer => {
        const bytes = new Uint8Array(length);
        bytes.set(body.subarray(offset, offset + length));
        offset += length;
        return bytes.buffer;
      };
      tier.slotStart.set(new Float64Array(copy(saved.points * 8)));
      for (const { name } of header.series) {
        const values = new Float32Array(copy(saved.points * 4));
        tier.values.get(name)?.set(values);
      }
    });
    return { history, savedAtMs: header.savedAtMs, dropped };
  }
}
