/**
 * The order fragmentation is judged at. Order 3 (32 KiB with 4 KiB pages) is where "page
 * allocation failure: order:3" reports cluster: jumbo-frame network buffers, SLUB caches with
 * order-3 slabs (kmalloc-8k and up), and the order most fragmentation bugs are reported against.
 */
export const fragmentationOrder = 3;

/** A zone with less free memory than this (the 16 MiB DMA zone, a nearly full zone) says little about fragmentation. */
export const minZoneFreeBytes = 64 * 1024 * 1024;

/** Free pages in a zone: a free block of order o holds 2^o pages. */
export function freePages(freeBlocks: number[]): number {
  return freeBlocks.reduce((sum, blocks, order) => sum + blocks * 2 ** order, 0);
}

/**
 * The unusable free space index (Gorman and Whitcroft, "The What, The Why and The Where To of
 * Anti-Fragmentation"): the share of free memory that sits in blocks too small for an allocation
 * of 2^order pages. 0 means every free page can serve it; 1 means none can (or nothing is free).
 */
export function unusableFreeIndex(freeBlocks: number[], order: number): number {
  const total = freePages(freeBlocks);
  if (total === 0) return 1;
  const usable = freeBlocks.reduce((sum, blocks, o) => (o >= order ? sum + blocks * 2 ** o : sum), 0);
  return (total - usable) / total;
}

/** The largest order that still has a free block, or -1 when the zone has none. */
export function largestFreeOrder(freeBlocks: number[]): number {
  for (let order = freeBlocks.length - 1; order >= 0; order--) if ((freeBlocks[order] ?? 0) > 0) return order;
  return -1;
}
