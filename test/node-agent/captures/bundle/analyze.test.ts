import { describe, expect, it } from 'vitest';
import { analyzeBundle } from '../../../../node-agent/captures/bundle/analyze.js';
import type { Manifest } from '../../../../node-agent/captures/bundle/manifest.js';
import { parseBundle } from '../../../../node-agent/captures/bundle/parse.js';
import { fixture } from '../../fixtures.js';

const read = (name: string): string => fixture('bundle', name);
const manifest = (): Manifest => JSON.parse(read('manifest-this-vm.json')) as Manifest;
const excerpts = { 'proc-version.txt': read('proc-version.txt'), 'lscpu.txt': read('lscpu.txt'), 'kernel-config.txt': read('kernel-config.txt') };

describe('analyzeBundle', () => {
  it('summarises the recorded bundle: files, bytes, the one failed item, kernel and CPU', () => {
    const recorded = manifest();
    const { summary, findings } = analyzeBundle(parseBundle({ manifest: recorded, archiveBytes: 71167, excerpts }));
    expect(findings).toEqual([]);
    expect(summary).toMatchObject({
      files: 21,
      bytes: recorded.files.reduce((sum, f) => sum + f.sizeBytes, 0),
      archiveBytes: 71167,
      failedItems: 1,
      truncatedItems: 0,
      failures: "modules.txt: ENOENT: no such file or directory, open '/proc/modules'",
      kernelRelease: '6.18.44-fc-v782',
      cpuModel: 'AMD EPYC',
      cpus: 2,
      hypervisor: 'KVM',
      preemption: 'none (dynamic)',
      hz: 250,
      btf: true,
      kprobes: false,
      debugOptions: 'none',
    });
  });

  it('counts truncated items and lists every failure', () => {
    const edited = manifest();
    edited.files[0] = { ...edited.files[0]!, truncated: true };
    edited.files[1] = { ...edited.files[1]!, error: 'EACCES: permission denied' };
    const { summary } = analyzeBundle(parseBundle({ manifest: edited, archiveBytes: 1, excerpts: {} }));
    expect(summary.truncatedItems).toBe(1);
    expect(summary.failedItems).toBe(2);
    expect(summary.failures).toBe("proc-version.txt: EACCES: permission denied; modules.txt: ENOENT: no such file or directory, open '/proc/modules'");
    expect(summary.cpuModel).toBeUndefined();
  });

  it('reports a bundle where everything was collected without a failures entry', () => {
    const clean = manifest();
    clean.files = clean.files.filter((f) => !f.error);
    const { summary } = analyzeBundle(parseBundle({ manifest: clean, archiveBytes: 1, excerpts }));
    expect(summary.failedItems).toBe(0);
    expect(summary).not.toHaveProperty('failures');
  });
});
