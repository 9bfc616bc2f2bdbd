import { access, readFile } from 'node:fs/promises';
import { closeSync, constants, openSync } from 'node:fs';
import { arch, hostname, release } from 'node:os';
import { join } from 'node:path';
import type { NodeCapabilities } from '../../api/v1alpha1/node.js';
import { agentNative } from './native.js';
import { runProcess } from './process.js';
import { exists, findTracefs, readTraceFile } from './tracefs.js';

/** What this node is and what it offers for captures. */
export interface NodeFacts {
  hostname: string;
  kernelVersion: string;
  osImage: string;
  architecture: string;
  bootId: string;
  capabilities: NodeCapabilities;
  /** The mounted tracefs, if any. */
  tracefs?: string;
  tracefsProblem?: string;
  perfProblem?: string;
  /**
   * Tracers the kernel lists but a setting forbids, with why (read, never tried: a refusal the
   * kernel gives only when asked is found by the capture that asks).
   */
  refusedTracers: Map<string, string>;
  /** Tracepoints as subsystem:event. */
  events: Set<string>;
  /** Helper commands present on PATH. */
  tools: Set<string>;
  /** Kernel-state files that can be read. */
  readableFiles: Set<string>;
  /** How the kernel log can be read: the /dev/kmsg device, syslog(2), or not at all. */
  kernelLog?: 'kmsg' | 'syslog';
}

export interface ProbeOptions {
  /** Where the host's root filesystem is visible (an agent in a container mounts it). */
  hostRoot?: string;
  tracefsCandidates?: string[];
}

/** The kernel-state files captures read; the probe records which are readable. */
export const kernelStateFiles = [
  '/proc/slabinfo',
  '/proc/buddyinfo',
  '/proc/pagetypeinfo',
  '/proc/vmstat',
  '/proc/meminfo',
  '/proc/net/tcp',
  '/proc/net/tcp6',
  '/proc/net/snmp',
  '/proc/net/netstat',
  '/dev/kmsg',
  '/proc/version',
];

const helperTools = ['tar', 'lscpu', 'lspci', 'ip', 'ss', 'sysctl', 'uname', 'dmesg', 'nsenter'];

async function readable(path: string): Promise<boolean> {
  return access(path, constants.R_OK).then(
    () => true,
    () => false,
  );
}

async function toolVersion(command: string, args: string[], pattern: RegExp): Promise<string | undefined> {
  const result = await runProcess(command, args, { timeoutMs: 10_000, maxOutputBytes: 4096 }).catch(() => undefined);
  if (result?.code !== 0) return undefined;
  return pattern.exec(result.stdout + result.stderr)?.[1];
}

async function onPath(command: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin').split(':')) {
    if (dir && (await exists(join(dir, command), constants.X_OK))) return true;
  }
  return false;
}

export function parseOsRelease(text: string): string | undefined {
  const line = text.split('\n').find((l) => l.startsWith('PRETTY_NAME='));
  return line?.slice('PRETTY_NAME='.length).replace(/^"|"$/g, '');
}

/** Lockdown mode from /sys/kernel/security/lockdown ("none [integrity] confidentiality"). */
export function parseLockdown(text: string): string | undefined {
  return /\[(\w+)\]/.exec(text)?.[1];
}

/** Effective capabilities from /proc/self/status as a bit mask. */
export function parseEffectiveCapabilities(status: string): bigint {
  const hex = /^CapEff:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  return hex ? BigInt(`0x${hex}`) : 0n;
}

const CAP_SYS_ADMIN = 21n;

interface TracerProbe {
  tracers: string[];
  refused: Map<string, string>;
  instances: boolean;
}

/**
 * The tracers this kernel offers, read without switching any on: what available_tracers lists,
 * minus those a setting visibly forbids. Whether the kernel then lets a private instance use one
 * (some refuse the function tracer with EPERM) is found by the capture that asks for it, which
 * ends Unsupported with that reason: switching tracers here would trace the whole node, if only
 * for a moment, at every agent start.
 */
async function probeTracers(root: string, procRoot: string): Promise<TracerProbe> {
  const listed = (await readTraceFile(root, 'available_tracers').catch(() => '')).split(/\s+/).filter(Boolean);
  const refused = new Map<string, string>();
  const ftraceEnabled = (await readFile(join(procRoot, 'sys/kernel/ftrace_enabled'), 'utf8').catch(() => '')).trim();
  if (ftraceEnabled === '0') {
    for (const tracer of ['function', 'function_graph'].filter((t) => listed.includes(t))) {
      refused.set(tracer, 'kernel.ftrace_enabled is 0; sysctl kernel.ftrace_enabled=1 allows function tracing');
    }
  }
  return {
    tracers: listed.filter((tracer) => !refused.has(tracer)),
    refused,
    instances: await exists(join(root, 'instances'), constants.W_OK),
  };
}

async function probePerf(): Promise<{ software: boolean; hardware: boolean; problem?: string }> {
  const soft = await runProcess('perf', ['stat', '-x,', '-e', 'cpu-clock', '--', 'true'], { timeoutMs: 15_000 }).catch(() => undefined);
  if (!soft) return { software: false, hardware: false, problem: 'perf is not installed' };
  const software = soft.code === 0 && /cpu-clock/.test(soft.stderr) && !/not supported|not counted/.test(soft.stderr);
  const hard = await runProcess('perf', ['stat', '-x,', '-e', 'cycles', '--', 'true'], { timeoutMs: 15_000 });
  const hardware = hard.code === 0 && /cycles/.test(hard.stderr) && !/not supported|not counted/.test(hard.stderr);
  return { software, hardware, problem: software ? undefined : soft.stderr.trim().split('\n').pop() };
}

/** Probes the kernel and machine: tracefs, tracers, events, BTF, kprobes, perf, tools, privileges. */
export async function probeNode(options: ProbeOptions = {}): Promise<NodeFacts> {
  const hostRoot = options.hostRoot ?? '/';
  const tracefs = await findTracefs(options.tracefsCandidates);
  const [osRelease, bootId, status, lockdownText, btf, bpftraceVersion, perfVersion] = await Promise.all([
    readFile(join(hostRoot, 'etc/os-release'), 'utf8').catch(() => ''),
    readFile('/proc/sys/kernel/random/boot_id', 'utf8').catch(() => ''),
    readFile('/proc/self/status', 'utf8').catch(() => ''),
    readFile('/sys/kernel/security/lockdown', 'utf8').catch(() => ''),
    exists('/sys/kernel/btf/vmlinux'),
    toolVersion('bpftrace', ['--version'], /v?(\d+\.\d+(?:\.\d+)?)/),
    toolVersion('perf', ['--version'], /perf version (\S+)/),
  ]);
  const root = process.getuid?.() === 0 || (parseEffectiveCapabilities(status) & (1n << CAP_SYS_ADMIN)) !== 0n;

  let tracefsProblem: string | undefined;
  let tracers: TracerProbe = { tracers: [], refused: new Map(), instances: false };
  let events = new Set<string>();
  let kprobes = false;
  if (!tracefs) {
    tracefsProblem = 'not mounted at /sys/kernel/tracing or /sys/kernel/debug/tracing';
  } else if (!(await readable(join(tracefs, 'available_events')))) {
    tracefsProblem = `${tracefs} is not readable by this user`;
  } else {
    events = new Set((await readTraceFile(tracefs, 'available_events')).split('\n').filter(Boolean));
    kprobes = await exists(join(tracefs, 'kprobe_events'));
    if (root) tracers = await probeTracers(tracefs, '/proc');
  }
  const perf = perfVersion ? await probePerf() : { software: false, hardware: false, problem: 'perf is not installed' };

  const readableFiles = new Set<string>();
  for (const file of kernelStateFiles) if (await readable(file)) readableFiles.add(file);
  const tools = new Set<string>();
  for (const tool of helperTools) if (await onPath(tool)) tools.add(tool);
  const kernelLog = kmsgOpenable() ? 'kmsg' : (await syslogReadable()) ? 'syslog' : undefined;

  return {
    hostname: hostname(),
    kernelVersion: release(),
    osImage: parseOsRelease(osRelease) ?? 'Linux',
    architecture: arch() === 'x64' ? 'amd64' : arch(),
    bootId: bootId.trim(),
    capabilities: {
      root,
      tracefs: tracefs !== undefined && tracefsProblem === undefined,
      tracefsInstances: tracers.instances,
      btf,
      kprobes,
      perfSoftwareEvents: perf.software,
      perfHardwareEvents: perf.hardware,
      tracers: tracers.tracers,
      ...(bpftraceVersion ? { bpftraceVersion } : {}),
      ...(perfVersion ? { perfVersion } : {}),
      ...(parseLockdown(lockdownText) ? { lockdown: parseLockdown(lockdownText) } : {}),
    },
    tracefs,
    tracefsProblem,
    perfProblem: perf.problem,
    refusedTracers: tracers.refused,
    events,
    tools,
    readableFiles,
    ...(kernelLog ? { kernelLog } : {}),
  };
}

/** Whether /dev/kmsg can be opened here (a container also needs the device itself). */
export function kmsgOpenable(path = '/dev/kmsg'): boolean {
  try {
    closeSync(openSync(path, constants.O_RDONLY | constants.O_NONBLOCK));
    return true;
  } catch {
    return false;
  }
}

async function syslogReadable(): Promise<boolean> {
  const native = agentNative();
  if (native) {
    try {
      native.syslogReadAll(Buffer.alloc(256));
      return true;
    } catch {
      return false;
    }
  }
  const result = await runProcess('dmesg', ['--syslog', '--raw'], { timeoutMs: 10_000, maxOutputBytes: 4096 }).catch(() => undefined);
  return result?.code === 0;
}
