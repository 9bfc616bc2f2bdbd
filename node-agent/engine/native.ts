import { createRequire } from 'node:module';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';

/**
 * The agent's native addon (node-agent/native/agent-native.c, built by hack/build-native.mjs):
 * the system calls Node.js has no binding for. Without it the kernel log is read through syslog(2)
 * by running `dmesg --syslog --raw` (ten times the CPU) and the start-up pages of the node binary
 * stay mapped.
 */
export interface AgentNative {
  /** syslog(2) SYSLOG_ACTION_SIZE_BUFFER. */
  syslogBufferSize(): number;
  /** syslog(2) SYSLOG_ACTION_READ_ALL into `buffer` (the newest records that fit); the bytes read. */
  syslogReadAll(buffer: Buffer): number;
  /** madvise(MADV_DONTNEED) on the read-only file mappings without private pages; what it advised. */
  releaseFilePages(): { bytes: number; mappings: number };
}

/** Where the build puts the addon: beside the compiled code, where the image has it too. */
export const nativeAddonPath = join(projectRoot, 'dist', 'native', 'ksleuth-agent.node');

let loaded: { native?: AgentNative; problem?: string } | undefined;

function load(): { native?: AgentNative; problem?: string } {
  if (!loaded && process.env.KSLEUTH_NATIVE === 'off') loaded = { problem: 'KSLEUTH_NATIVE=off' };
  if (!loaded) {
    try {
      loaded = { native: createRequire(import.meta.url)(nativeAddonPath) as AgentNative };
    } catch (error) {
      loaded = { problem: `${nativeAddonPath} does not load (${(error as Error).message.split('\n')[0]}); run npm run build where a C compiler is installed` };
    }
  }
  return loaded;
}

/** The addon, or undefined where it was not built (no C compiler), does not load, or KSLEUTH_NATIVE=off (to compare). */
export function agentNative(): AgentNative | undefined {
  return load().native;
}

/** Why the addon is not there, for a log line; undefined when it is. */
export function agentNativeProblem(): string | undefined {
  return load().problem;
}
