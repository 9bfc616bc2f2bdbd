/**
 * ksleuth analyze on large kernel logs: per pasted form, the time to recognize, read and match
 * the shipped kernel-log rules against a log made by repeating a real one
 * (test/fixtures/kernel-log/formats/), in records a second and MB a second, and the heap it
 * took. No target is set; the figures say how large a log analyze takes in reasonable time.
 *
 *   npx tsx bench/offline-analyze.ts [--mb 20]
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { analyzeKernelLogText } from '../cli/offline/analyzers.js';
import { detectInput } from '../cli/offline/detect.js';
import { projectRoot } from '../lib/paths.js';

const { values } = parseArgs({ options: { mb: { type: 'string', default: '20' } } });
const targetBytes = Number(values.mb) * 1024 * 1024;
const dir = join(projectRoot, 'test', 'fixtures', 'kernel-log', 'formats');
const files = [
  'kmsg.txt',
  'dmesg.txt',
  'dmesg-T.txt',
  'dmesg-x.txt',
  'syslog-centos-hung-task.txt',
  'journal-monotonic-hung-task.txt',
  'serial-console-syzbot.txt',
];

console.log(`file                              MB    records    detect ms  analyze s  records/s  MB/s  heap MB  findings`);
for (const file of files) {
  const one = await readFile(join(dir, file), 'utf8');
  const text = one.repeat(Math.max(1, Math.round(targetBytes / one.length)));
  global.gc?.();
  const heapBefore = process.memoryUsage().heapUsed;
  let started = performance.now();
  const kind = detectInput(text);
  const detectMs = performance.now() - started;
  if (kind.kind !== 'kernel-log') throw new Error(`${file} was not recognized as a kernel log`);
  started = performance.now();
  const analysis = analyzeKernelLogText({ name: file, file, group: '', text }, kind.format);
  const seconds = (performance.now() - started) / 1000;
  const heapMb = (process.memoryUsage().heapUsed - heapBefore) / 1024 / 1024;
  const records = Number(analysis.summary.records);
  const mb = text.length / 1024 / 1024;
  console.log(
    `${file.padEnd(32)} ${mb.toFixed(1).padStart(5)} ${String(records).padStart(10)} ${detectMs.toFixed(1).padStart(11)} ${seconds.toFixed(2).padStart(10)} ${Math.round(
      records / seconds,
    )
      .toString()
      .padStart(10)} ${(mb / seconds).toFixed(1).padStart(5)} ${heapMb.toFixed(0).padStart(8)} ${analysis.findings.map((f) => f.pattern).join(',')}`,
  );
}
