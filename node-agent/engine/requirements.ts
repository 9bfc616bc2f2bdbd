import type { NodeFacts } from './probe.js';

/** Something a capture needs from the node. */
export type Requirement =
  | { root: true }
  | { tracefs: true }
  | { tracefsInstances: true }
  | { btf: true }
  | { kprobes: true }
  | { perfSoftwareEvents: true }
  | { tool: 'bpftrace' | 'perf' | 'tar' }
  | { tracer: string }
  | { tracepoint: string }
  | { kernelLog: true }
  | { file: string };

/** Why a capture cannot run here: which piece is missing and how to get it. */
export interface Unsupported {
  reason: string;
  message: string;
}

const toolPackages: Record<string, string> = {
  bpftrace: 'bpftrace (Debian/Ubuntu: apt-get install bpftrace)',
  perf: 'perf (Debian: apt-get install linux-perf; Ubuntu: linux-tools-$(uname -r))',
  tar: 'tar',
};

/** The first requirement the node does not meet, explained; undefined when it meets all. */
export function unmetRequirement(requirements: Requirement[], facts: NodeFacts): Unsupported | undefined {
  const caps = facts.capabilities;
  for (const req of requirements) {
    if ('root' in req && !caps.root) {
      return {
        reason: 'NotPrivileged',
        message: 'needs root (CAP_SYS_ADMIN, CAP_BPF, CAP_PERFMON): run ksleuth as root, or the agent with the chart’s security context',
      };
    }
    if ('tracefs' in req && !caps.tracefs) {
      return {
        reason: 'TracefsUnavailable',
        message: `tracefs is not available${facts.tracefsProblem ? ` (${facts.tracefsProblem})` : ''}: mount it with "mount -t tracefs nodev /sys/kernel/tracing" (kernel needs CONFIG_FTRACE)`,
      };
    }
    if ('tracefsInstances' in req && !caps.tracefsInstances) {
      return {
        reason: 'TracefsInstancesUnavailable',
        message:
          'private tracefs instances cannot be created (instances/ is missing or read-only): needs a kernel with CONFIG_TRACING >= 3.10 and write access to tracefs',
      };
    }
    if ('btf' in req && !caps.btf) {
      return {
        reason: 'BTFUnavailable',
        message: 'kernel BTF (/sys/kernel/btf/vmlinux) is missing: needs a kernel built with CONFIG_DEBUG_INFO_BTF=y',
      };
    }
    if ('kprobes' in req && !caps.kprobes) {
      return {
        reason: 'KprobesUnavailable',
        message:
          'kprobes are not available on this kernel (no kprobe_events in tracefs): needs CONFIG_KPROBES and CONFIG_KPROBE_EVENTS; use tracepoint-based captures instead',
      };
    }
    if ('perfSoftwareEvents' in req && !caps.perfSoftwareEvents) {
      return {
        reason: 'PerfUnavailable',
        message: `perf cannot sample the cpu-clock event${facts.perfProblem ? ` (${facts.perfProblem})` : ''}: run as root or lower kernel.perf_event_paranoid`,
      };
    }
    if ('tool' in req) {
      const present = req.tool === 'bpftrace' ? caps.bpftraceVersion : req.tool === 'perf' ? caps.perfVersion : facts.tools.has(req.tool);
      if (!present) {
        return { reason: 'ToolMissing', message: `${req.tool} is not installed: install ${toolPackages[req.tool]}` };
      }
    }
    if ('tracer' in req && !caps.tracers.includes(req.tracer)) {
      const refused = facts.refusedTracers.get(req.tracer);
      return {
        reason: 'TracerUnavailable',
        message: refused
          ? `the ${req.tracer} tracer is refused by this kernel (${refused}); ftrace events mode and bpftrace tracepoints still work`
          : `this kernel does not offer the ${req.tracer} tracer (available: ${caps.tracers.join(', ') || 'none'}): needs ${tracerConfig(req.tracer)}`,
      };
    }
    if ('tracepoint' in req && !facts.events.has(req.tracepoint)) {
      return {
        reason: 'TracepointMissing',
        message: `the tracepoint ${req.tracepoint} does not exist on this kernel (not in available_events)`,
      };
    }
    if ('kernelLog' in req && !facts.kernelLog) {
      return {
        reason: 'KernelLogUnreadable',
        message:
          'the kernel log cannot be read: /dev/kmsg cannot be opened (a container needs the device, the chart’s agent.privileged) and syslog(2) is refused (needs CAP_SYSLOG, or kernel.dmesg_restrict=0)',
      };
    }
    if ('file' in req && !facts.readableFiles.has(req.file)) {
      return { reason: 'FileUnreadable', message: `${req.file} cannot be read on this node` };
    }
  }
  return undefined;
}

function tracerConfig(tracer: string): string {
  if (tracer === 'function_graph') return 'CONFIG_FUNCTION_GRAPH_TRACER=y';
  if (tracer === 'function') return 'CONFIG_FUNCTION_TRACER=y';
  return `the kernel option for the ${tracer} tracer`;
}
