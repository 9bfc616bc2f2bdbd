import { describe, expect, it } from 'vitest';
import type { Manifest } from '../../../../node-agent/captures/bundle/manifest.js';
import { kernelHighlights, parseBundle, parseKernelConfig, parseLscpu } from '../../../../node-agent/captures/bundle/parse.js';
import { fixture } from '../../fixtures.js';

const read = (name: string): string => fixture('bundle', name);

describe('bundle parsers (recorded on this VM)', () => {
  it('reads lscpu fields', () => {
    const cpu = parseLscpu(read('lscpu.txt'));
    expect(cpu).toMatchObject({ Architecture: 'x86_64', 'CPU(s)': '2', 'Model name': 'AMD EPYC', 'Hypervisor vendor': 'KVM' });
    expect(cpu.Flags).toMatch(/\bavx2\b/);
  });

  it('reads the kernel config, unset options as "n"', () => {
    const config = parseKernelConfig(read('kernel-config.txt'));
    expect(config.CONFIG_HZ).toBe('250');
    expect(config.CONFIG_PREEMPT_VOLUNTARY).toBe('n');
    expect(config.CONFIG_DEBUG_INFO_BTF).toBe('y');
    expect(config.CONFIG_KPROBES).toBe('n');
    expect(Object.keys(config).length).toBeGreaterThan(1000);
  });

  it('picks out what matters for kernel debugging: preemption, HZ, BTF, kprobes, tracers, debug options', () => {
    expect(kernelHighlights(parseKernelConfig(read('kernel-config.txt')))).toEqual({
      preemption: 'none (dynamic)',
      hz: 250,
      btf: true,
      kprobes: false,
      functionGraphTracer: false,
      debugOptions: [],
    });
    expect(kernelHighlights({ CONFIG_PREEMPT_RT: 'y', CONFIG_KASAN: 'y', CONFIG_LOCKDEP: 'y' })).toMatchObject({
      preemption: 'rt',
      debugOptions: ['KASAN', 'LOCKDEP'],
    });
  });

  it('turns a run’s manifest and excerpts into totals, the kernel and the CPU', () => {
    const manifest = JSON.parse(read('manifest-this-vm.json')) as Manifest;
    const parsed = parseBundle({
      manifest,
      archiveBytes: 71000,
      excerpts: { 'proc-version.txt': read('proc-version.txt'), 'lscpu.txt': read('lscpu.txt'), 'kernel-config.txt': read('kernel-config.txt') },
    });
    expect(parsed.files).toHaveLength(20);
    expect(parsed.totalBytes).toBe(manifest.files.reduce((sum, f) => sum + f.sizeBytes, 0));
    expect(parsed.kernelVersion).toMatch(/^Linux version 6\.18\.44-fc-v782 /);
    expect(parsed.kernel?.hz).toBe(250);
    expect(parsed.cpu['Model name']).toBe('AMD EPYC');
  });

  it('leaves the kernel out when the config was not collected', () => {
    const manifest = JSON.parse(read('manifest-this-vm.json')) as Manifest;
    const parsed = parseBundle({ manifest, archiveBytes: 1, excerpts: {} });
    expect(parsed.kernel).toBeUndefined();
    expect(parsed.kernelVersion).toBeUndefined();
    expect(parsed.cpu).toEqual({});
  });
});
