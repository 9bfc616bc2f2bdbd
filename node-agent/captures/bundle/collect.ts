import { release } from 'node:os';
import { gunzip } from 'node:zlib';
import { promisify } from 'node:util';
import type { KernelStateJournal } from '../../engine/journal.js';
import type { NodeFacts } from '../../engine/probe.js';
import { describeFailure, runProcess } from '../../engine/process.js';
import { readCapped } from '../../engine/read-capped.js';
import { formatDecodedRecord, parseKmsg } from '../../engine/kmsg-record.js';
import { readKernelLog } from '../../engine/kmsg-reader.js';
import { namespaceInode } from '../../engine/netns.js';
import { commandPackages, type BundleItem } from './items.js';

const gunzipAsync = promisify(gunzip);

export interface CollectLimits {
  timeoutMs: number;
  maxBytes: number;
}

export interface CollectContext {
  facts: NodeFacts;
  signal: AbortSignal;
  journal: KernelStateJournal;
  limits: CollectLimits;
  /** The host's /proc, through which other network namespaces are entered. Default /proc. */
  procRoot?: string;
}

export interface Collected {
  data: Buffer;
  /** The command line or path it came from. */
  source: string;
  truncated: boolean;
  error?: string;
  exitCode?: number;
}

function errorText(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

async function fromCommand(item: BundleItem & { source: { kind: 'command' } }, ctx: CollectContext): Promise<Collected> {
  const { command, args } = item.source;
  return run(command, args, [command, ...args].join(' '), ctx);
}

/**
 * A command inside another network namespace: nsenter enters it through a process of it. Only
 * the network namespace changes (ss -p still sees the host's /proc). The process's namespace is
 * checked before and after: a pid that exited and was reused meanwhile gives no listing.
 */
async function fromNamespace(item: BundleItem & { source: { kind: 'netns-command' } }, ctx: CollectContext): Promise<Collected> {
  const { command, args, pid, inode, label } = item.source;
  const proc = ctx.procRoot ?? '/proc';
  const nsenter = ['nsenter', `--net=${proc}/${pid}/ns/net`, '--'];
  const source = `${[...nsenter, command, ...args].join(' ')} (net:[${inode}], ${label})`;
  const missing = [command, 'nsenter'].find((tool) => !ctx.facts.tools.has(tool));
  if (missing) return notInstalledError(missing, source);
  const gone = (): Collected => ({
    data: Buffer.alloc(0),
    source,
    truncated: false,
    error: `process ${pid} left network namespace ${inode} (exited) before it was read`,
  });
  if (namespaceInode(proc, pid) !== inode) return gone();
  const collected = await run(nsenter[0]!, [...nsenter.slice(1), command, ...args], source, ctx);
  return namespaceInode(proc, pid) === inode ? collected : gone();
}

function notInstalledError(command: string, source: string): Collected {
  return {
    data: Buffer.alloc(0),
    source,
    truncated: false,
    error: `${command} is not installed (Debian: apt-get install ${commandPackages[command] ?? command})`,
  };
}

async function run(command: string, args: string[], source: string, ctx: CollectContext): Promise<Collected> {
  if (!ctx.facts.tools.has(command)) return notInstalledError(command, source);
  const result = await runProcess(command, args, {
    timeoutMs: ctx.limits.timeoutMs,
    maxOutputBytes: ctx.limits.maxBytes,
    signal: ctx.signal,
    journal: ctx.journal,
  });
  const failed = result.timedOut || result.aborted || result.code !== 0;
  return {
    data: Buffer.from(result.stdout, 'utf8'),
    source,
    truncated: result.truncated,
    ...(result.code !== null ? { exitCode: result.code } : {}),
    ...(failed ? { error: describeFailure(result) } : {}),
  };
}

async function fromFile(path: string, ctx: CollectContext): Promise<Collected> {
  try {
    return { ...(await readCapped(path, ctx.limits.maxBytes)), source: path };
  } catch (error) {
    return { data: Buffer.alloc(0), source: path, truncated: false, error: errorText(error) };
  }
}

async function kernelConfig(ctx: CollectContext): Promise<Collected> {
  const bootConfig = `/boot/config-${release()}`;
  const fromBoot = await fromFile(bootConfig, ctx);
  if (!fromBoot.error) return fromBoot;
  try {
    const compressed = await readCapped('/proc/config.gz', ctx.limits.maxBytes);
    const data = await gunzipAsync(compressed.data, { maxOutputLength: ctx.limits.maxBytes });
    return { data, source: '/proc/config.gz (decompressed)', truncated: false };
  } catch (error) {
    return {
      data: Buffer.alloc(0),
      source: `${bootConfig} or /proc/config.gz`,
      truncated: false,
      error: `neither ${bootConfig} (${fromBoot.error}) nor /proc/config.gz (${errorText(error)}) can be read: the kernel config ships with the kernel package, or in the kernel with CONFIG_IKCONFIG_PROC`,
    };
  }
}

async function kernelLog(ctx: CollectContext): Promise<Collected> {
  let source = '/dev/kmsg (every record since boot, as dmesg -x prints them)';
  try {
    const read = await readKernelLog({ sinceBoot: true, maxRecords: 1_000_000, until: new Date(0), signal: ctx.signal });
    if (read.source === 'syslog') source = 'syslog(2) via dmesg --syslog (every record still in the buffer, as dmesg -x prints them)';
    const text = parseKmsg(read.text)
      .map((record) => `${formatDecodedRecord(record)}\n`)
      .join('');
    const data = Buffer.from(text, 'utf8');
    const truncated = data.length > ctx.limits.maxBytes;
    return {
      data: truncated ? data.subarray(0, ctx.limits.maxBytes) : data,
      source,
      truncated,
      ...(read.lost > 0 ? { error: `${read.lost} records were overwritten in the kernel's buffer while it was read` } : {}),
    };
  } catch (error) {
    return { data: Buffer.alloc(0), source, truncated: false, error: errorText(error) };
  }
}

function nodeFacts(facts: NodeFacts): Collected {
  const json = JSON.stringify(
    facts,
    (_key, value: unknown) => (value instanceof Set ? [...value].sort() : value instanceof Map ? Object.fromEntries(value) : value),
    2,
  );
  return { data: Buffer.from(`${json}\n`), source: 'the facts the ksleuth agent probed on this node', truncated: false };
}

/** Collects one item. Never throws: a failure is returned as `error`, with whatever was read. */
export async function collectItem(item: BundleItem, ctx: CollectContext): Promise<Collected> {
  const source = item.source;
  switch (source.kind) {
    case 'command':
      return fromCommand(item as BundleItem & { source: typeof source }, ctx);
    case 'file':
      return fromFile(source.path, ctx);
    case 'kernel-config':
      return kernelConfig(ctx);
    case 'kernel-log':
      return kernelLog(ctx);
    case 'node-facts':
      return nodeFacts(ctx.facts);
    case 'netns-command':
      return fromNamespace(item as BundleItem & { source: typeof source }, ctx);
    case 'text':
      return { data: Buffer.from(source.text, 'utf8'), source: source.description, truncated: false };
  }
}
