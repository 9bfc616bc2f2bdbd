/**
 * Events that open and close one operation, matched by a key taken from their fields, so the
 * time between them is a latency: a block request from issue to completion (device and sector),
 * a jbd2 commit from start to end and its locked phase (device and transaction).
 */
export interface EventPair {
  name: string;
  /** The tracepoint subsystem of both events ("block", "jbd2"). */
  system: string;
  start: string;
  end: string;
  /** The key that ties the two records, and the group (device) it is reported under. */
  key(fields: string): { key: string; group: string } | undefined;
}

// "254,0 WS 65536 () 333194584 + 128 be,0,4 [dd]" (issue) / "254,0 WS () 333194584 + 128 be,0,4 [0]" (complete)
const blockRequest = /^(\d+,\d+)\s+\S+\s+(?:\d+\s+)?\(.*?\)\s+(\d+)\s+\+/;
// "dev 254,0 transaction 1234 sync 0" (head 1233 on jbd2_end_commit)
const journalTransaction = /^dev (\d+,\d+) transaction (\d+)/;

function byPattern(pattern: RegExp): EventPair['key'] {
  return (fields) => {
    const match = pattern.exec(fields);
    return match ? { key: `${match[1]}/${match[2]}`, group: match[1]!.replace(',', ':') } : undefined;
  };
}

export const eventPairs: EventPair[] = [
  { name: 'block-request', system: 'block', start: 'block_rq_issue', end: 'block_rq_complete', key: byPattern(blockRequest) },
  { name: 'jbd2-commit', system: 'jbd2', start: 'jbd2_start_commit', end: 'jbd2_end_commit', key: byPattern(journalTransaction) },
  { name: 'jbd2-locked', system: 'jbd2', start: 'jbd2_commit_locking', end: 'jbd2_commit_flushing', key: byPattern(journalTransaction) },
];

/** Whether a list of events (subsystem:event, with * globs) traces an event. */
function traces(events: readonly string[], system: string, event: string): boolean {
  return events.some((pattern) => {
    const source = pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*');
    return new RegExp(`^${source}$`).test(`${system}:${event}`);
  });
}

/**
 * Pairs of which a list of events traces one end only, each as a sentence: such a list counts
 * the events but can never measure the pair's latency.
 */
export function unpairedEvents(events: readonly string[]): string[] {
  return eventPairs.flatMap((pair) => {
    const start = traces(events, pair.system, pair.start);
    const end = traces(events, pair.system, pair.end);
    if (start === end) return [];
    const [has, lacks] = start ? [pair.start, pair.end] : [pair.end, pair.start];
    return [`${pair.system}:${has} without ${pair.system}:${lacks}: no ${pair.name} latency (add ${pair.system}:${lacks})`];
  });
}
