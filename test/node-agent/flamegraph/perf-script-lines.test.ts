import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { matchEvent, matchFrame, matchHeader, type EventSpans, type HeaderSpans } from '../../../node-agent/flamegraph/perf-script-lines.js';

/** stackcollapse-perf.pl's own patterns (Perl's \s on bytes spelled out), the reference. */
const sampleHeader = /^([^\t\n\v\f\r ].+?)[\t\n\v\f\r ]+(\d+)\/*(\d+)*[\t\n\v\f\r ]+/s;
const headerEvent = /:[\t\n\v\f\r ]*(\d+)*[\t\n\v\f\r ]+([^\t\n\v\f\r ]+):[\t\n\v\f\r ]*$/s;
const stackFrame = /^[\t\n\v\f\r ]*(\w+)[\t\n\v\f\r ]*(.+) \((.*)\)/s;

const fixtures = join(import.meta.dirname, '../../fixtures/flamegraph');
const lines = readdirSync(fixtures)
  .filter((f) => f.endsWith('.perf-script.txt'))
  .flatMap((f) => readFileSync(join(fixtures, f), 'latin1').split('\n'));
/** Lines made to probe backtracking, beyond what the recordings hold. */
const tricky = [
  'a  123 x',
  'ab 12/ x',
  'ab 12/x 5 y',
  'ab 1//2 x',
  'x 1 y: 5: cpu-clock:',
  'x 1 y:12 e:  ',
  'x 1 y: e:',
  'x 1 :: ',
  'ffffsym (m)',
  'ffff  (m)',
  'f (a) b (c) d',
  'a b ()',
];

function header(text: string): unknown {
  const bytes = Buffer.from(text, 'latin1');
  const s: HeaderSpans = { commEnd: 0, pidStart: 0, pidEnd: 0, tidStart: 0, tidEnd: 0 };
  if (!matchHeader(bytes, 0, bytes.length, s)) return null;
  return [text.slice(0, s.commEnd), text.slice(s.pidStart, s.pidEnd), s.tidEnd > s.tidStart ? text.slice(s.tidStart, s.tidEnd) : undefined];
}

function event(text: string): unknown {
  const bytes = Buffer.from(text, 'latin1');
  const s: EventSpans = { eventStart: 0, eventEnd: 0, periodStart: 0, periodEnd: 0 };
  if (!matchEvent(bytes, 0, bytes.length, s)) return null;
  return [s.periodEnd > s.periodStart ? text.slice(s.periodStart, s.periodEnd) : undefined, text.slice(s.eventStart, s.eventEnd)];
}

describe('hand-written perf script line matchers', () => {
  it('read every recorded and synthetic line as stackcollapse-perf.pl’s patterns do', () => {
    expect(lines.length).toBeGreaterThan(5000);
    for (const text of [...lines, ...tricky]) {
      const h = sampleHeader.exec(text);
      expect(header(text), text).toEqual(h ? [h[1], h[2], h[3]] : null);
      const e = headerEvent.exec(text);
      expect(event(text), text).toEqual(e ? [e[1], e[2]] : null);
      const f = stackFrame.exec(text);
      const frame = matchFrame(text);
      expect(frame ? [frame.address, frame.symbol, frame.module] : null, text).toEqual(f ? [f[1], f[2], f[3]] : null);
    }
  });
});
