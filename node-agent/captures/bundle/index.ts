import { mkdir, readFile, stat, writeFile } from 'node:fs/promises';
import { hostname as osHostname, release } from 'node:os';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { ksleuthVersion } from '../../../lib/version.js';
import { CaptureError, type CaptureModule } from '../../engine/capture.js';
import { findNamespaces } from '../../engine/node-netns.js';
import { describeFailure, runProcess } from '../../engine/process.js';
import { analyzeBundle } from './analyze.js';
import { collectItem, type CollectContext, type Collected } from './collect.js';
import { bundleItems, podNamespaceItems, type BundleItem } from './items.js';
import type { Manifest, ManifestEntry } from './manifest.js';
import { parseBundle, type BundleRaw, type ParsedBundle } from './parse.js';
import { Redactor } from './redact.js';

/** Each item gets this long and this much; commands over it are killed, outputs cut. */
export const bundleLimits = { timeoutMs: 15_000, maxBytes: 16 * 1024 * 1024 };
/**
 * All items share this budget and tar gets its own, so the bundle ends within the runner's
 * 60 s grace after the window even when several commands hang.
 */
const collectBudgetMs = 30_000;
const tarTimeoutMs = 20_000;
const parallelItems = 4;
/** Pod network namespaces listed at most (the kubelet's default is 110 pods a node). */
const maxPodNamespaces = 128;
/** Files the summary reads from. */
const excerptFiles = ['proc-version.txt', 'lscpu.txt', 'kernel-config.txt'];

async function inParallel<T, R>(items: T[], limit: number, work: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length) {
      const index = next++;
      results[index] = await work(items[index]!);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

async function collectSafely(item: BundleItem, ctx: CollectContext): Promise<Collected & { durationMs: number }> {
  const started = Date.now();
  const collected = await collectItem(item, ctx).catch(
    (error: unknown): Collected => ({ data: Buffer.alloc(0), source: item.file, truncated: false, error: String((error as Error).message ?? error) }),
  );
  return { ...collected, durationMs: Date.now() - started };
}

/** The names this node goes by: its host name, the FQDN in /etc/hostname, and the NIS domain's. */
async function nodeNames(hostname: string): Promise<string[]> {
  const read = (path: string): Promise<string> =>
    readFile(path, 'utf8').then(
      (t) => t.trim(),
      () => '',
    );
  const [etc, kernel, domain] = await Promise.all([read('/etc/hostname'), read('/proc/sys/kernel/hostname'), read('/proc/sys/kernel/domainname')]);
  const names = [hostname, osHostname(), etc, kernel];
  if (domain && domain !== '(none)') names.push(`${kernel}.${domain}`);
  return names.filter((n) => n !== '');
}

function stamp(date: Date): string {
  return date
    .toISOString()
    .replace(/[-:]/g, '')
    .replace(/\.\d+Z$/, 'Z');
}

export const bundleCapture: CaptureModule<'bundle', BundleRaw, ParsedBundle> = {
  kind: 'bundle',
  title: 'Bug-report bundle',
  // Every item is optional: one that cannot be collected (slabinfo without root, lspci not
  // installed) is recorded in the manifest. Only the archive needs tar.
  requirements: () => [{ tool: 'tar' }],

  async run(ctx) {
    // Taken at the end of the window, so the kernel log and counters cover the investigation.
    await sleep(Math.max(0, ctx.windowEnd.getTime() - Date.now()), undefined, { signal: ctx.signal }).catch(() => undefined);
    if (ctx.signal.aborted) throw new CaptureError('Cancelled', 'the bundle was stopped before it was collected');

    const createdAt = new Date();
    // Redacted before anything is written: the files, the manifest, the archive's directory name
    // and the excerpts the summary reads all leave the node.
    const redactor = new Redactor(new Set(ctx.params.redact), { hostnames: await nodeNames(ctx.facts.hostname) });
    const hostname = redactor.hostname(ctx.facts.hostname);
    const dirName = `ksleuth-bundle-${hostname}-${stamp(createdAt)}`;
    const dir = join(ctx.workDir, dirName);
    await mkdir(dir, { recursive: true });
    const budgetEnd = Date.now() + collectBudgetMs;
    const pods = await findNamespaces({ procRoot: '/proc', maxNamespaces: maxPodNamespaces, workloads: ctx.workloads });
    if (pods.skipped > 0) ctx.log.warn({ listed: pods.namespaces.length, skipped: pods.skipped }, 'More network namespaces than the bundle lists');
    const items = [...bundleItems(ctx.params), ...podNamespaceItems(pods.namespaces)];
    const excerpts: Record<string, string> = {};
    const files: ManifestEntry[] = await inParallel(items, parallelItems, async (item) => {
      const timeoutMs = Math.max(1000, Math.min(bundleLimits.timeoutMs, budgetEnd - Date.now()));
      const collectContext: CollectContext = { facts: ctx.facts, signal: ctx.signal, journal: ctx.journal, limits: { ...bundleLimits, timeoutMs } };
      // The pods' listings come last and only while the budget lasts: a node with many pods must not hold the bundle up.
      const raw =
        item.source.kind === 'netns-command' && Date.now() >= budgetEnd
          ? {
              data: Buffer.alloc(0),
              source: item.file,
              truncated: false,
              error: `not collected: the bundle's ${collectBudgetMs / 1000} s budget was used up`,
              durationMs: 0,
            }
          : await collectSafely(item, collectContext);
      const collected = { ...raw, data: redactor.file(item.file, raw.data) };
      // Every item gets its file, empty when nothing could be read, so the manifest and the archive match.
      await mkdir(dirname(join(dir, item.file)), { recursive: true });
      await writeFile(join(dir, item.file), collected.data);
      if (excerptFiles.includes(item.file) && collected.data.length > 0) excerpts[item.file] = collected.data.toString('utf8');
      return {
        file: item.file,
        source: collected.source,
        sizeBytes: collected.data.length,
        truncated: collected.truncated,
        ...(collected.error !== undefined ? { error: collected.error } : {}),
        ...(collected.exitCode !== undefined ? { exitCode: collected.exitCode } : {}),
        durationMs: collected.durationMs,
      };
    });
    const manifest: Manifest = {
      createdAt: createdAt.toISOString(),
      hostname,
      kernelRelease: release(),
      ...(ctx.params.redact.length > 0 ? { redacted: [...ctx.params.redact] } : {}),
      ksleuthVersion,
      limits: { timeoutSeconds: bundleLimits.timeoutMs / 1000, maxBytes: bundleLimits.maxBytes },
      files,
    };
    await writeFile(join(dir, 'manifest.json'), `${JSON.stringify(manifest, null, 2)}\n`);

    const archive = join(ctx.workDir, 'bundle.tar.gz');
    const tar = await runProcess('tar', ['-czf', archive, '-C', ctx.workDir, dirName], {
      timeoutMs: tarTimeoutMs,
      signal: ctx.signal,
      journal: ctx.journal,
    });
    if (tar.code !== 0) throw new CaptureError('ArchiveFailed', `could not pack the bundle: ${describeFailure(tar)}`);
    await ctx.artifacts.add('bundle.tar.gz', archive, 'application/gzip');
    return { manifest, archiveBytes: (await stat(archive)).size, excerpts };
  },

  parse: (raw) => parseBundle(raw),
  analyze: (parsed) => analyzeBundle(parsed),
};
