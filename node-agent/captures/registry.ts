import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import { bundleCapture } from './bundle/index.js';
import { cpuProfileCapture } from './cpu-profile/index.js';
import { kernelLogCapture } from './kernel-log/index.js';
import { memoryCapture } from './memory/index.js';
import { slabCapture } from './slab/index.js';
import { tcpCapture } from './tcp/index.js';
import { bpftraceCapture } from './bpftrace/index.js';
import { ftraceCapture } from './ftrace/index.js';
import { ioLatencyCapture } from './io-latency/index.js';
import { kmallocCapture } from './kmalloc/index.js';
import type { CaptureModule } from '../engine/capture.js';

/**
 * Every capture kind's module. Adding a kind: its params in api/v1alpha1/captures.ts, its folder
 * under node-agent/captures/, and one line here.
 */
export const captureModules: Partial<Record<CaptureKind, CaptureModule>> = {
  memory: memoryCapture,
  slab: slabCapture,
  'kernel-log': kernelLogCapture,
  tcp: tcpCapture,
  bundle: bundleCapture,
  kmalloc: kmallocCapture,
  'io-latency': ioLatencyCapture,
  bpftrace: bpftraceCapture,
  ftrace: ftraceCapture,
  'cpu-profile': cpuProfileCapture,
};
