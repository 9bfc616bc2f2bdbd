import type { BpftraceOutput } from './bpftrace-output.js';

/*
 * How long a capture's probes counted, printed by the program rather than kept in a map: with
 * bpftrace 0.17 every map gets BPFTRACE_MAP_KEYS_MAX preallocated entries, megabytes for one
 * number. The program prints the start from BEGIN (bpftrace needs seconds to attach) and the end
 * from its exit probe, which may fire again before bpftrace exits: the first end counts.
 */

const startMarker = 'ksleuth window_start_ns';
const endMarker = 'ksleuth window_end_ns';

/** A statement that prints the window start (put it in BEGIN). */
export const printWindowStart = `printf("${startMarker} %lld\\n", nsecs);`;

/** A statement that prints the window end: `end` is a bpftrace expression in monotonic ns. */
export function printWindowEnd(end: string): string {
  return `printf("${endMarker} %lld\\n", ${end});`;
}

/** The seconds between the printed start and the first printed end; 0 if either is missing or the end came first. */
export function windowSeconds(output: BpftraceOutput): number {
  const read = (marker: string): number | undefined => {
    const line = output.printf.find((l) => l.startsWith(`${marker} `));
    return line === undefined ? undefined : Number(line.slice(marker.length + 1));
  };
  const [start, end] = [read(startMarker), read(endMarker)];
  return start === undefined || end === undefined ? 0 : Math.max(0, end - start) / 1e9;
}
