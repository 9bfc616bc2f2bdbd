import type { Logger } from '../../lib/log.js';
import { agentNative } from '../engine/native.js';

export interface FilePagesOptions {
  log: Logger;
  /** Once start-up is over (when this is called), and then this often. */
  everyMs: number;
}

/**
 * Keeps the agent from mapping pages of the node binary and its libraries that only start-up used.
 * Starting Node.js and loading the agent touches about 30 MB of the binary's code and read-only
 * data (bootstrap, the module loader, the TLS setup), which then stay mapped and count in the
 * agent's RSS although the idle agent runs a fraction of it. Dropping the mappings now and then
 * (madvise MADV_DONTNEED on read-only file mappings without private pages) leaves mapped what the
 * agent used since; the pages stay in the page cache, so what runs again costs a minor fault.
 * Without the native addon it does nothing. Returns a function that stops it.
 */
export function releaseFilePagesPeriodically(options: FilePagesOptions): () => void {
  const native = agentNative();
  if (!native) return () => undefined;
  const release = (): void => {
    try {
      const { bytes, mappings } = native.releaseFilePages();
      options.log.debug({ bytes, mappings }, 'Released the file pages mapped since the last time');
    } catch (error) {
      options.log.warn({ err: error }, 'Could not release file pages');
    }
  };
  release();
  const periodic = setInterval(release, options.everyMs);
  periodic.unref();
  return () => clearInterval(periodic);
}
