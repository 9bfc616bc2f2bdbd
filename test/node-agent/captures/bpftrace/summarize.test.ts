import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { programForWindow } from '../../../../node-agent/captures/bpftrace/index.js';
import { summarizeBpftrace, summaryLimits } from '../../../../node-agent/captures/bpftrace/summarize.js';
import { parseBpftraceOutput } from '../../../../node-agent/engine/bpftrace-output.js';

const output = parseBpftraceOutput(readFileSync(new URL('../../../fixtures/bpftrace/every-output-kind.json', import.meta.url), 'utf8'));

describe('summarizeBpftrace on a recorded program', () => {
  const summary = summarizeBpftrace(output);

  it('gives each scalar map its value and each histogram its count and quantiles', () => {
    expect(summary).toMatchObject({
      maps: 14,
      printfLines: 4,
      '@calls': 2641,
      '@bytes': 1227560,
      '@largest': 32768,
      '@smallest': 8,
      '@mean': 464,
      '@seconds': 3,
    });
    expect(summary).toMatchObject({ '@size.count': 2641, '@size.p50': 127, '@size.p99': 8191, '@size_linear.count': 2641 });
    expect(summary).toMatchObject({ '@size_stats.count': 2641, '@size_stats.average': 464, '@size_stats.total': 1227560 });
  });

  it('gives keyed maps their number of keys and largest entries, ksym() duplicates added up', () => {
    expect(summary['@by_site.keys']).toBe(52);
    const top = String(summary['@by_site.top']).split(', ');
    expect(top).toHaveLength(summaryLimits.topEntries);
    expect(top[0]).toBe('ext4_htree_store_dirent=925');
    const values = top.map((entry) => Number(entry.split('=').pop()));
    expect(values).toEqual([...values].sort((a, b) => b - a));
    expect(summary['@hist_by_comm.top']).toMatch(/^python3=909, /);
    expect(summary['@mean_by_comm.top']).toMatch(/^bpftrace=1701, /);
    expect(summary['@last.first']).toBe('0=["node",4096], 1=["bash",96]');
  });

  it('names at most the first maps of a program with very many', () => {
    const many = parseBpftraceOutput(Array.from({ length: 50 }, (_, i) => `{"type": "map", "data": {"@m${i}": ${i}}}`).join('\n'));
    const s = summarizeBpftrace(many);
    expect(s.maps).toBe(50);
    expect(Object.keys(s).filter((k) => k.startsWith('@'))).toHaveLength(summaryLimits.maps);
  });
});

describe('programForWindow', () => {
  it('appends an interval probe that exits when the window is over', () => {
    expect(programForWindow('tracepoint:kmem:kmalloc { @ = count(); }', 4200)).toBe('tracepoint:kmem:kmalloc { @ = count(); }\ninterval:ms:4200 { exit(); }\n');
    expect(programForWindow('BEGIN { }', -5)).toMatch(/interval:ms:1 \{ exit\(\); \}/);
  });
});
