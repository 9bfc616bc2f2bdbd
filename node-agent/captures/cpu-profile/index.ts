import type { CaptureModule } from '../../engine/capture.js';
import { analyzeCpuProfile } from './analyze.js';
import { parseCpuProfile, type CpuProfileRaw, type ParsedCpuProfile } from './parse.js';
import { recordCpuProfile } from './record.js';

export const cpuProfileCapture: CaptureModule<'cpu-profile', CpuProfileRaw, ParsedCpuProfile> = {
  kind: 'cpu-profile',
  title: 'CPU profile and flame graph',
  // perf_event_open on every CPU with kernel stacks needs CAP_PERFMON/CAP_SYS_ADMIN; cpu-clock is a software event.
  requirements: () => [{ root: true }, { tool: 'perf' }, { perfSoftwareEvents: true }],
  run: recordCpuProfile,
  parse: parseCpuProfile,
  analyze: (parsed, params) => analyzeCpuProfile(parsed, params),
};
