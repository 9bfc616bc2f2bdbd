import { ioLatencyParams } from '../../../api/v1alpha1/captures.js';
import type { Finding } from '../../../api/v1alpha1/finding.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { evidence, ms } from '../../../lib/findings.js';
import { criticalOutlierFactor, writeStall, writeStallMitigation } from '../../patterns/write-stall.js';
import { unpairedEvents } from './event-pairs.js';
import type { EventsParsed, PairLatency } from './parse-events.js';
import type { FtraceParsed } from './parse.js';

/** How many events, tasks and functions the summary names. */
export const summaryTop = 10;

/** Block requests slower than the io-latency capture's default outlier threshold. */
const slowRequestUs = ioLatencyParams.parse({}).outlierThresholdMs * 1000;

function latencyLine(l: PairLatency): string {
  return `${l.pair} on ${l.group}: ${l.count} matched, average ${ms(l.averageUs)}, p99 ${ms(l.p99Us)}, max ${ms(l.maxUs)}`;
}

function pairFindings(parsed: EventsParsed): Finding[] {
  const findings: Finding[] = [];
  for (const l of parsed.latencies) {
    if (l.pair === 'block-request' && l.maxUs >= slowRequestUs) {
      findings.push({
        pattern: 'io-latency',
        severity: l.maxUs >= slowRequestUs * criticalOutlierFactor ? 'critical' : 'warning',
        title: `Block requests on ${l.group} took up to ${ms(l.maxUs)} (ftrace block_rq_issue -> block_rq_complete)`,
        evidence: evidence([latencyLine(l)]),
        recommendation: 'Run the io-latency capture on this node for per-device histograms and outlier counts over a longer window.',
      });
    }
    const commit = l.pair === 'jbd2-commit' && l.maxUs >= writeStall.commitMs * 1000;
    const locked = l.pair === 'jbd2-locked' && l.maxUs >= writeStall.lockedMs * 1000;
    if (commit || locked) {
      const critical = l.maxUs >= (commit ? writeStall.commitCriticalMs : writeStall.lockedCriticalMs) * 1000;
      findings.push({
        pattern: 'write-stall',
        severity: critical ? 'critical' : 'warning',
        title: `Journal on ${l.group}: ${commit ? 'commits' : 'locked phases'} took up to ${ms(l.maxUs)}`,
        evidence: evidence([latencyLine(l)]),
        recommendation: 'Long jbd2 commits stall every writer of the filesystem: run the io-latency capture to see whether the device is slow during commits.',
        suggestedMitigation: writeStallMitigation,
      });
    }
  }
  return findings;
}

/** `events` is what the capture asked to trace (events mode), to say which pair latencies it cannot measure. */
export function analyzeFtrace(parsed: FtraceParsed, events: readonly string[] = []): CaptureAnalysis {
  const summary: Summary = {
    mode: parsed.mode,
    windowSeconds: Math.round(parsed.windowSeconds * 10) / 10,
    droppedEvents: parsed.droppedEvents,
    truncated: parsed.truncated,
  };
  if (parsed.mode === 'events') {
    summary.totalEvents = parsed.totalEvents;
    summary.rateSeconds = parsed.rateSeconds;
    for (const e of parsed.events.slice(0, summaryTop)) {
      summary[`event.${e.event}`] = e.count;
      summary[`event.${e.event}.perSecond`] = e.perSecond;
    }
    parsed.topTasks.slice(0, summaryTop).forEach((t, i) => {
      summary[`task.${i + 1}`] = `${t.task}-${t.pid}: ${t.count}`;
    });
    const unpaired = unpairedEvents(events);
    if (unpaired.length > 0) summary.unpairedEvents = unpaired.join('; ');
    for (const l of parsed.latencies) {
      summary[`latency.${l.pair}.${l.group}`] = `${l.count} matched, avg ${l.averageUs} us, p99 ${l.p99Us} us, max ${l.maxUs} us, ${l.unmatched} unmatched`;
    }
    return { summary, findings: pairFindings(parsed) };
  }
  if (parsed.mode === 'function') {
    summary.totalCalls = parsed.totalCalls;
    for (const f of parsed.functions.slice(0, summaryTop)) summary[`function.${f.name}`] = `${f.calls} calls (${f.perSecond}/s)`;
    return { summary, findings: [] };
  }
  summary.deeperCalls = parsed.deeperCalls;
  for (const f of parsed.functions.slice(0, summaryTop)) {
    summary[`function.${f.name}`] = `${f.calls} calls, total ${f.totalUs} us, avg ${f.averageUs} us, max ${f.maxUs} us`;
  }
  return { summary, findings: [] };
}
