/**
 * /proc/sys/kernel/tainted decoded, bit by bit, as Documentation/admin-guide/tainted-kernels.rst
 * lists the flags. Kernel developers read the letters first: a proprietary or out-of-tree module
 * (P, O), an earlier oops or warning (D, W) or a forced unload (R) changes what a report means.
 */
const flags: [letter: string, meaning: string][] = [
  ['P', 'a proprietary module was loaded'],
  ['F', 'a module was force-loaded'],
  ['S', 'the kernel runs on an out-of-specification system'],
  ['R', 'a module was force-unloaded'],
  ['M', 'a processor reported a machine check exception'],
  ['B', 'a bad page was referenced or had unexpected flags'],
  ['U', 'user space asked for the taint'],
  ['D', 'the kernel died recently (an oops or BUG)'],
  ['A', 'an ACPI table was overridden'],
  ['W', 'the kernel issued a warning'],
  ['C', 'a staging driver was loaded'],
  ['I', 'a workaround for a platform firmware bug was applied'],
  ['O', 'an out-of-tree module was loaded'],
  ['E', 'an unsigned module was loaded'],
  ['L', 'a soft lockup occurred'],
  ['K', 'the kernel was live-patched'],
  ['X', 'an auxiliary taint, defined by the distribution'],
  ['T', 'the kernel was built with the randstruct plugin'],
  ['N', 'an in-kernel test was run'],
  ['J', 'userspace used a mutating debug operation in fwctl'],
];

export interface Taint {
  value: number;
  /** The letters as the kernel prints them after "Tainted:", set flags only. */
  letters: string;
  reasons: string[];
}

/** Decodes the number in /proc/sys/kernel/tainted; undefined when the text is not one. */
export function decodeTainted(text: string): Taint | undefined {
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const value = Number(trimmed);
  const set = flags.filter((_, bit) => Math.floor(value / 2 ** bit) % 2 === 1);
  return { value, letters: set.map(([l]) => l).join(''), reasons: set.map(([, m]) => m) };
}
