import type { CaptureKind } from '../../api/v1alpha1/captures.js';
import { bundleCapture } from '../captures/bundle/index.js';
import { cpuProfileCapture } from '../captures/cpu-profile/index.js';
import { kernelLogCapture } from '../captures/kernel-log/index.js';
import { memoryCapture } from '../captures/memory/index.js';
import { slabCapture } from '../captures/slab/index.js';
import { tcpCapture } from '../captures/tcp/index.js';
import { bpftraceCapture } from '../captures/bpftrace/index.js';
import { ftraceCapture } from '../captures/ftrace/index.js';
import { ioLatencyCapture } from '../captures/io-latency/index.js';
import { kmallocCapture } from '../captures/kmalloc/index.js';
import type { CaptureModule } from './capture.js';

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
