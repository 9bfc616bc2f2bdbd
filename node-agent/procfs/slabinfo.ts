/** One line of /proc/slabinfo (version 2.x). */
export interface SlabCache {
  name: string;
  activeObjs: number;
  numObjs: number;
  objSize: number;
  objPerSlab: number;
  pagesPerSlab: number;
  activeSlabs: number;
  numSlabs: number;
}

// name active_objs num_objs objsize objperslab pagesperslab : tunables l b s : slabdata active_slabs num_slabs sharedavail
const cacheLine = /^(\S+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s+(\d+)\s*:\s*tunables\s+\d+\s+\d+\s+\d+\s*:\s*slabdata\s+(\d+)\s+(\d+)\s+\d+\s*$/;

/** Parses /proc/slabinfo. Throws on a version other than 2.x, whose columns differ. */
export function parseSlabinfo(text: string): SlabCache[] {
  const lines = text.split('\n');
  const version = /^slabinfo - version: (\d+)\.(\d+)/.exec(lines[0] ?? '');
  if (!version) throw new Error('/proc/slabinfo does not start with "slabinfo - version: 2.x": not slabinfo text');
  if (version[1] !== '2') throw new Error(`/proc/slabinfo version ${version[1]}.${version[2]} is not supported (only 2.x)`);
  const caches: SlabCache[] = [];
  for (const line of lines.slice(1)) {
    const m = cacheLine.exec(line.trim());
    if (!m) continue;
    caches.push({
      name: m[1]!,
      activeObjs: Number(m[2]),
      numObjs: Number(m[3]),
      objSize: Number(m[4]),
      objPerSlab: Number(m[5]),
      pagesPerSlab: Number(m[6]),
      activeSlabs: Number(m[7]),
      numSlabs: Number(m[8]),
    });
  }
  return caches;
}
