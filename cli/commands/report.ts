import { mkdir, stat, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ksleuthVersion } from '../../lib/version.js';
import { sha256File } from '../../node-agent/engine/artifacts.js';
import { UsageError, type Command } from '../command.js';
import { capturesOf, getInvestigation } from '../investigations.js';
import type { ReportArtifact } from '../kernel-report/markdown.js';
import { clusterClient, kubeOptions, kubeUsage } from '../kube.js';
import type { BundleContents } from '../offline/bundle-archive.js';

const usage = `Write a Markdown report of an investigation for kernel developers: the kernels (release,
distribution, /proc/version, command line, taint and config from the bundle), the findings with
their evidence, the comparison across kernels with the range it supports, how to reproduce, and
the artifacts.

  ksleuth report INVESTIGATION [--out DIR] [--stdout]

  --out DIR          where the artifacts were downloaded (ksleuth artifacts get INVESTIGATION
                     --out DIR) and where report.md is written, beside them (default ./INVESTIGATION)
  --stdout           print the report instead of writing it
${kubeUsage}`;

/** The investigation's artifacts, and which are downloaded (and intact) under outDir/<node>/. */
async function localArtifacts(refs: { node: string; name: string; sizeBytes: number; sha256: string }[], outDir: string): Promise<ReportArtifact[]> {
  const artifacts: ReportArtifact[] = [];
  for (const ref of refs) {
    const path = join(outDir, ref.node, ref.name);
    const info = await stat(path).catch(() => undefined);
    const intact = info?.isFile() && info.size === ref.sizeBytes && (await sha256File(path)) === ref.sha256;
    if (info && !intact) console.error(`note: ${path} does not match its sha256; download it again (ksleuth artifacts get)`);
    artifacts.push({ ...ref, ...(intact ? { localPath: path } : {}) });
  }
  return artifacts;
}

export const report: Command = {
  usage,
  async run(args) {
    const { values, positionals } = parseArgs({
      args,
      options: { ...kubeOptions, out: { type: 'string' }, stdout: { type: 'boolean', default: false } },
      allowPositionals: true,
      strict: true,
    });
    const [name] = positionals;
    if (!name || positionals.length > 1) throw new UsageError('use: ksleuth report INVESTIGATION');
    // Loaded here, not at start, to keep the CLI quick to start.
    const { renderKernelReport } = await import('../kernel-report/markdown.js');
    const { readBundleArchive } = await import('../offline/bundle-archive.js');
    const client = clusterClient(values);
    try {
      const investigation = await getInvestigation(client, name);
      // The workload window's: the baseline window (spec.baseline.run) is summarized in the status.
      const captures = (await capturesOf(client, name)).filter((c) => !c.spec.baseline);
      const outDir = resolve(values.out ?? name);
      const refs = captures.flatMap((c) =>
        (c.status?.artifacts ?? []).map((a) => ({ node: c.spec.nodeName, name: a.name, sizeBytes: a.sizeBytes, sha256: a.sha256 })),
      );
      const artifacts = await localArtifacts(refs, outDir);
      const bundles = new Map<string, BundleContents>();
      for (const a of artifacts.filter((a) => a.localPath && a.name.endsWith('bundle.tar.gz'))) {
        try {
          bundles.set(a.node, await readBundleArchive(a.localPath!));
        } catch (error) {
          console.error(`note: ${a.localPath} is left out: ${(error as Error).message}`);
        }
      }
      const markdown = renderKernelReport({ investigation, captures, bundles, artifacts, outDir, generatedAt: new Date(), ksleuthVersion });
      if (values.stdout) {
        process.stdout.write(markdown);
        return 0;
      }
      await mkdir(outDir, { recursive: true });
      const file = join(outDir, 'report.md');
      await writeFile(file, markdown);
      console.log(
        `Wrote ${file}${bundles.size === 0 && refs.length > 0 ? ` (no bundle downloaded next to it: ksleuth artifacts get ${name} --out ${outDir})` : ''}`,
      );
      return 0;
    } finally {
      client.close();
    }
  },
};
