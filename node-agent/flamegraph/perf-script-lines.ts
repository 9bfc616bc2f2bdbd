/*
 * The three line patterns of stackcollapse-perf.pl, matched by hand: the same results as the
 * regular expressions (in their comments; Perl's \s on bytes is [\t\n\v\f\r ]) without building
 * match arrays or strings, or backtracking. Headers are read in the line's bytes; frame lines,
 * read once per distinct line, as byte strings (latin1: one char per byte). Where a frame line is
 * unusual enough that the hand-written path could differ, the regular expression decides.
 */

function isSpace(code: number): boolean {
  return code === 0x20 || (code >= 0x09 && code <= 0x0d);
}

function isDigit(code: number): boolean {
  return code >= 0x30 && code <= 0x39;
}

function isWord(code: number): boolean {
  return (code >= 0x30 && code <= 0x39) || (code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a) || code === 0x5f;
}

/** Where the parts of a header line are: offsets into the line's buffer. */
export interface HeaderSpans {
  commEnd: number;
  pidStart: number;
  pidEnd: number;
  /** tidStart === tidEnd: no tid. */
  tidStart: number;
  tidEnd: number;
}

/**
 * /^(\S.+?)\s+(\d+)\/*(\d+)*\s+/ on bytes[start, end) — the sample header "comm pid[/tid] ...".
 * The comm is the shortest prefix (two characters at least) after which whitespace, digits,
 * optionally slashes and digits, and whitespace follow. Fills `spans`; false when no match.
 */
export function matchHeader(bytes: Uint8Array, start: number, end: number, spans: HeaderSpans): boolean {
  if (end - start < 2 || isSpace(bytes[start]!)) return false;
  for (let p = start + 2; p < end; p++) {
    if (!isSpace(bytes[p]!)) continue;
    let i = p + 1;
    while (i < end && isSpace(bytes[i]!)) i++;
    const pidStart = i;
    while (i < end && isDigit(bytes[i]!)) i++;
    if (i === pidStart || i === end) continue;
    const pidEnd = i;
    if (isSpace(bytes[i]!)) return fill(spans, p, pidStart, pidEnd, i, i);
    if (bytes[i] !== 0x2f /* / */) continue;
    while (i < end && bytes[i] === 0x2f) i++;
    const tidStart = i;
    while (i < end && isDigit(bytes[i]!)) i++;
    if (i < end && isSpace(bytes[i]!)) return fill(spans, p, pidStart, pidEnd, tidStart, i);
  }
  return false;
}

function fill(spans: HeaderSpans, commEnd: number, pidStart: number, pidEnd: number, tidStart: number, tidEnd: number): true {
  spans.commEnd = commEnd;
  spans.pidStart = pidStart;
  spans.pidEnd = pidEnd;
  spans.tidStart = tidStart;
  spans.tidEnd = tidEnd;
  return true;
}

/** Where the event and its period are in a header line. */
export interface EventSpans {
  eventStart: number;
  eventEnd: number;
  /** periodStart === periodEnd: no period. */
  periodStart: number;
  periodEnd: number;
}

/**
 * /:\s*(\d+)*\s+(\S+):\s*$/ on bytes[start, end) — "...: [period] event:" at the end of a
 * header. The event is the last word without its final colon; the period, the digits before it
 * when a colon precedes them. Fills `spans`; false when no match.
 */
export function matchEvent(bytes: Uint8Array, start: number, end: number, spans: EventSpans): boolean {
  let last = end;
  while (last > start && isSpace(bytes[last - 1]!)) last--;
  if (last === start || bytes[last - 1] !== 0x3a /* : */) return false;
  const eventEnd = last - 1;
  let eventStart = eventEnd;
  while (eventStart > start && !isSpace(bytes[eventStart - 1]!)) eventStart--;
  if (eventStart === eventEnd || eventStart === start) return false;
  spans.eventStart = eventStart;
  spans.eventEnd = eventEnd;
  let gap = eventStart;
  while (gap > start && isSpace(bytes[gap - 1]!)) gap--;
  if (gap > start && bytes[gap - 1] === 0x3a) {
    spans.periodStart = spans.periodEnd = gap;
    return true;
  }
  let digits = gap;
  while (digits > start && isDigit(bytes[digits - 1]!)) digits--;
  if (digits === gap) return false;
  let colon = digits;
  while (colon > start && isSpace(bytes[colon - 1]!)) colon--;
  if (colon === start || bytes[colon - 1] !== 0x3a) return false;
  spans.periodStart = digits;
  spans.periodEnd = gap;
  return true;
}

export interface FrameMatch {
  address: string;
  symbol: string;
  module: string;
}

/** The pattern itself, for the lines the fast path leaves to it. */
const framePattern = /^[\t\n\v\f\r ]*(\w+)[\t\n\v\f\r ]*(.+) \((.*)\)/s;

/**
 * /^\s*(\w+)\s*(.+) \((.*)\)/ — "<address> <symbol>[+0xoff] (<module>)". Greedy: the module is
 * in the last " (" that a ")" follows, up to the last ")".
 */
export function matchFrame(text: string): FrameMatch | undefined {
  const n = text.length;
  let i = 0;
  while (i < n && isSpace(text.charCodeAt(i))) i++;
  const addressStart = i;
  while (i < n && isWord(text.charCodeAt(i))) i++;
  if (i === addressStart) return undefined;
  const addressEnd = i;
  while (i < n && isSpace(text.charCodeAt(i))) i++;
  const close = text.lastIndexOf(')');
  const open = close >= 2 ? text.lastIndexOf(' (', close - 2) : -1;
  if (open > i) return { address: text.slice(addressStart, addressEnd), symbol: text.slice(i, open), module: text.slice(open + 2, close) };
  // An empty symbol or no module: backtracking into the address may still match, as in Perl.
  const match = framePattern.exec(text);
  return match ? { address: match[1]!, symbol: match[2]!, module: match[3]! } : undefined;
}
