import type { CaptureParams } from '../../../api/v1alpha1/captures.js';
import type { Finding } from '../../../api/v1alpha1/finding.js';
import { addHistograms, describeHistogram, histogramQuantile } from '../../engine/bpftrace-output.js';
import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import { evidence, ms } from '../../../lib/findings.js';
import type { DeviceLatency, IoLatencyParsed, JournalLatency, LatencyHistogram } from './parse.js';
import { criticalOutlierFactor, writeStall, writeStallMitigation } from '../../patterns/write-stall.js';

/** Outliers above this share of a device's requests (or this many) are more than noise. */
export const outlierShare = 0.01;
export const outlierCount = 10;

function latencyLine(what: string, h: LatencyHistogram): string {
  return `${what}: ${h.count} in the window, p50 <= ${ms(h.p50Us ?? 0)}, p99 <= ${ms(h.p99Us ?? 0)}, max ${ms(h.maxUs)}`;
}

function deviceFinding(d: DeviceLatency, thresholdMs: number): Finding | undefined {
  if (d.outliers === 0) return undefined;
  const thresholdUs = thresholdMs * 1000;
  const share = d.outliers / d.count;
  const severity: Finding['severity'] =
    d.maxUs >= thresholdUs * criticalOutlierFactor
      ? 'critical'
      : share >= outlierShare || d.outliers >= outlierCount || (d.p99Us ?? 0) >= thresholdUs
        ? 'warning'
        : 'info';
  return {
    pattern: 'io-latency',
    severity,
    title: `${d.device}: ${d.outliers} I/O requests took ${thresholdMs} ms or more (max ${ms(d.maxUs)})`,
    evidence: evidence([
      latencyLine(`${d.device} (${d.dev}) requests`, d),
      `${d.outliers} requests (${(share * 100).toFixed(2)}%) at or above ${thresholdMs} ms`,
      `latency histogram (us): ${describeHistogram(d.histogramUs, 'us').join('; ')}`,
    ]),
    recommendation:
      `Slow requests on ${d.device} come from the device or what is under it (a saturated or throttled cloud volume, a failing disk, ` +
      'a storage network), or from queueing behind large writes. Compare the outliers with the device’s own stats ' +
      `(/sys/block/${d.device}/stat, iostat await) and check the kernel log for I/O errors and resets.`,
  };
}

function journalFinding(j: JournalLatency): Finding | undefined {
  const commitMax = j.commits?.maxUs ?? 0;
  const lockedMax = j.locked?.maxUs ?? 0;
  const longCommit = commitMax >= writeStall.commitMs * 1000;
  const longLock = lockedMax >= writeStall.lockedMs * 1000;
  if (!longCommit && !longLock) return undefined;
  const critical = commitMax >= writeStall.commitCriticalMs * 1000 || lockedMax >= writeStall.lockedCriticalMs * 1000;
  const worst = longLock ? `writers held up to ${ms(lockedMax)} in the locked phase` : `commits took up to ${ms(commitMax)}`;
  return {
    pattern: 'write-stall',
    severity: critical ? 'critical' : 'warning',
    title: `Journal of ${j.device}: ${worst}`,
    evidence: evidence([
      ...(j.commits ? [latencyLine(`jbd2 commits on ${j.device} (${j.dev})`, j.commits)] : []),
      ...(j.locked ? [latencyLine('locked phase (new handles wait)', j.locked)] : []),
      `thresholds: commit >= ${writeStall.commitMs} ms or locked phase >= ${writeStall.lockedMs} ms`,
    ]),
    recommendation:
      'Long jbd2 commits stall every writer of the filesystem (fsync, metadata updates, database checkpoints). ' +
      'Check whether the device is slow during commits (io-latency outliers on the same device) and whether large dirty ' +
      'bursts are written at once; a known ext4/jbd2 bug on this kernel is worth searching for with the commit times as evidence.',
    suggestedMitigation: writeStallMitigation,
  };
}

/** p50 and p99 in ms over several histograms together, each bound by the slowest sample; undefined without samples. */
function overall(histograms: LatencyHistogram[]): { p50Ms: number; p99Ms: number } | undefined {
  const merged = histograms.reduce((sum, h) => addHistograms(sum, h.histogramUs), [] as LatencyHistogram['histogramUs']);
  const maxUs = Math.max(0, ...histograms.map((h) => h.maxUs));
  const quantile = (fraction: number): number => Math.min(histogramQuantile(merged, fraction) ?? 0, maxUs > 0 ? maxUs : Infinity) / 1000;
  return histograms.length === 0 ? undefined : { p50Ms: quantile(0.5), p99Ms: quantile(0.99) };
}

export function analyzeIoLatency(parsed: IoLatencyParsed, params: CaptureParams<'io-latency'>): CaptureAnalysis {
  const summary: Summary = {
    windowSeconds: Math.round(parsed.windowSeconds * 10) / 10,
    devices: parsed.devices.length,
    requests: parsed.devices.reduce((sum, d) => sum + d.count, 0),
    outliers: parsed.devices.reduce((sum, d) => sum + d.outliers, 0),
    journals: parsed.journals.length,
  };
  const requests = overall(parsed.devices);
  if (requests) Object.assign(summary, requests);
  const commits = overall(parsed.journals.flatMap((j) => (j.commits ? [j.commits] : [])));
  if (commits) Object.assign(summary, { commitP50Ms: commits.p50Ms, commitP99Ms: commits.p99Ms });
  for (const d of parsed.devices) {
    summary[`${d.device}.requests`] = d.count;
    summary[`${d.device}.p99Ms`] = (d.p99Us ?? 0) / 1000;
    summary[`${d.device}.maxMs`] = d.maxUs / 1000;
    summary[`${d.device}.outliers`] = d.outliers;
  }
  for (const j of parsed.journals) {
    if (j.commits) {
      summary[`${j.device}.commits`] = j.commits.count;
      summary[`${j.device}.commitMaxMs`] = j.commits.maxUs / 1000;
    }
    if (j.locked) summary[`${j.device}.lockedMaxMs`] = j.locked.maxUs / 1000;
  }
  if (parsed.malformedLines > 0) summary.malformedOutputLines = parsed.malformedLines;
  const findings = [...parsed.devices.map((d) => deviceFinding(d, params.outlierThresholdMs)), ...parsed.journals.map((j) => journalFinding(j))].filter(
    (f): f is Finding => f !== undefined,
  );
  return { summary, findings };
}
