/** Parsers for the memory files in /proc. Pure: text in, data out. */

/** Free blocks of one zone by order, from /proc/buddyinfo. */
export interface ZoneFreeBlocks {
  node: number;
  zone: string;
  /** freeBlocks[order] = number of free blocks of 2^order pages. */
  freeBlocks: number[];
}

const zoneHeader = /^Node\s+(\d+),\s*zone\s+(\S+)\s*(.*)$/;

export function parseBuddyinfo(text: string): ZoneFreeBlocks[] {
  const zones: ZoneFreeBlocks[] = [];
  for (const line of text.split('\n')) {
    const match = zoneHeader.exec(line.trim());
    if (!match) continue;
    zones.push({ node: Number(match[1]), zone: match[2]!, freeBlocks: numbers(match[3]!) });
  }
  return zones;
}

/** Counters of /proc/vmstat ("name value" lines). */
export function parseVmstat(text: string): Record<string, number> {
  const counters: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const [name, value] = line.trim().split(/\s+/);
    if (name && value !== undefined && /^-?\d+$/.test(value)) counters[name] = Number(value);
  }
  return counters;
}

/** /proc/meminfo in KiB ("MemFree:  123 kB"); HugePages_* counts are kept as plain numbers. */
export function parseMeminfo(text: string): Record<string, number> {
  const fields: Record<string, number> = {};
  for (const line of text.split('\n')) {
    const match = /^([\w()]+):\s+(\d+)(?:\s+kB)?\s*$/.exec(line.trim());
    if (match) fields[match[1]!] = Number(match[2]);
  }
  return fields;
}

/** One zone's migrate-type picture from /proc/pagetypeinfo. */
export interface ZonePageTypes {
  node: number;
  zone: string;
  /** Free blocks by migrate type and order; a count the kernel capped (">100000") is the cap. */
  freeByType: Record<string, number[]>;
  /** Pageblocks by migrate type. */
  blocksByType: Record<string, number>;
}

export interface PageTypeInfo {
  pageblockOrder: number;
  pagesPerBlock: number;
  zones: ZonePageTypes[];
  /** Some free counts were printed as ">100000" (the kernel stops counting there since 5.4). */
  capped: boolean;
}

export function parsePagetypeinfo(text: string): PageTypeInfo {
  const info: PageTypeInfo = { pageblockOrder: 0, pagesPerBlock: 0, zones: [], capped: false };
  const zone = (node: number, name: string): ZonePageTypes => {
    let found = info.zones.find((z) => z.node === node && z.zone === name);
    if (!found) {
      found = { node, zone: name, freeByType: {}, blocksByType: {} };
      info.zones.push(found);
    }
    return found;
  };
  let blockTypes: string[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const order = /^Page block order:\s*(\d+)/.exec(line);
    const perBlock = /^Pages per block:\s*(\d+)/.exec(line);
    const freeLine = /^Node\s+(\d+),\s*zone\s+(\S+),\s*type\s+(\S+)\s+(.*)$/.exec(line);
    const blocksLine = zoneHeader.exec(line);
    if (order) info.pageblockOrder = Number(order[1]);
    else if (perBlock) info.pagesPerBlock = Number(perBlock[1]);
    else if (line.startsWith('Number of blocks type')) blockTypes = line.slice('Number of blocks type'.length).trim().split(/\s+/);
    else if (freeLine) {
      if (freeLine[4]!.includes('>')) info.capped = true;
      zone(Number(freeLine[1]), freeLine[2]!).freeByType[freeLine[3]!] = numbers(freeLine[4]!.replaceAll('>', ''));
    } else if (blocksLine && blockTypes.length > 0) {
      const counts = numbers(blocksLine[3]!);
      const target = zone(Number(blocksLine[1]), blocksLine[2]!);
      blockTypes.forEach((type, i) => {
        if (counts[i] !== undefined) target.blocksByType[type] = counts[i];
      });
    }
  }
  return info;
}

/** Size and watermarks of one zone from /proc/zoneinfo, in pages. */
export interface ZoneWatermarks {
  node: number;
  zone: string;
  free: number;
  min: number;
  low: number;
  high: number;
  managed: number;
}

export function parseZoneinfo(text: string): ZoneWatermarks[] {
  const zones: ZoneWatermarks[] = [];
  let current: ZoneWatermarks | undefined;
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const header = /^Node\s+(\d+),\s*zone\s+(\S+)$/.exec(line);
    if (header) {
      current = { node: Number(header[1]), zone: header[2]!, free: 0, min: 0, low: 0, high: 0, managed: 0 };
      zones.push(current);
      continue;
    }
    if (!current) continue;
    const field = /^(pages free|min|low|high|managed)\s+(\d+)$/.exec(line);
    if (field) {
      const key = field[1] === 'pages free' ? 'free' : (field[1] as 'min' | 'low' | 'high' | 'managed');
      current[key] = Number(field[2]);
    }
  }
  return zones;
}

function numbers(text: string): number[] {
  return text.trim().split(/\s+/).filter(Boolean).map(Number);
}
