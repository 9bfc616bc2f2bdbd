/**
 * Events that open and close one operation, matched by a key taken from their fields, so the
 * time between them is a latency: a block request from issue to completion (device and sector),
 * a jbd2 commit from start to end and its locked phase (device and transaction).
 */
export interface EventPair {
  name: string;
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
  { name: 'block-request', start: 'block_rq_issue', end: 'block_rq_complete', key: byPattern(blockRequest) },
  { name: 'jbd2-commit', start: 'jbd2_start_commit', end: 'jbd2_end_commit', key: byPattern(journalTransaction) },
  { name: 'jbd2-locked', start: 'jbd2_commit_locking', end: 'jbd2_commit_flushing', key: byPattern(journalTransaction) },
];
