import type { CaptureAnalysis, Summary } from '../../engine/capture.js';
import type { ParsedBundle } from './parse.js';

/** The bundle finds nothing by itself: its summary says what it holds and what could not be collected. */
export function analyzeBundle(parsed: ParsedBundle): CaptureAnalysis {
  const failed = parsed.files.filter((f) => f.error !== undefined);
  const summary: Summary = {
    files: parsed.files.length + 1, // and manifest.json
    bytes: parsed.totalBytes,
    archiveBytes: parsed.archiveBytes,
    failedItems: failed.length,
    truncatedItems: parsed.files.filter((f) => f.truncated).length,
    kernelRelease: parsed.kernelRelease,
    podNamespaces: parsed.files.filter((f) => f.file.startsWith('netns/') && f.file.endsWith('/ss.txt')).length,
  };
  if (failed.length > 0)
    summary.failures = failed
      .map((f) => `${f.file}: ${f.error}`)
      .join('; ')
      .slice(0, 1024);
  if (parsed.kernelVersion) summary.kernelVersion = parsed.kernelVersion;
  if (parsed.cpu['Model name']) summary.cpuModel = parsed.cpu['Model name'];
  if (parsed.cpu['CPU(s)']) summary.cpus = Number(parsed.cpu['CPU(s)']);
  if (parsed.cpu['Hypervisor vendor']) summary.hypervisor = parsed.cpu['Hypervisor vendor'];
  if (parsed.kernel) {
    if (parsed.kernel.preemption) summary.preemption = parsed.kernel.preemption;
    if (parsed.kernel.hz) summary.hz = parsed.kernel.hz;
    summary.btf = parsed.kernel.btf;
    summary.kprobes = parsed.kernel.kprobes;
    summary.functionGraphTracer = parsed.kernel.functionGraphTracer;
    summary.debugOptions = parsed.kernel.debugOptions.join(', ') || 'none';
  }
  return { summary, findings: [] };
}
