import { runProcess } from './process.js';

/** The kernel's page size in bytes (getconf PAGESIZE); 4096 if it cannot be asked. */
export async function pageSizeBytes(signal?: AbortSignal): Promise<number> {
  const result = await runProcess('getconf', ['PAGESIZE'], { timeoutMs: 5000, maxOutputBytes: 64, ...(signal ? { signal } : {}) }).catch(() => undefined);
  const value = Number(result?.stdout.trim());
  return Number.isInteger(value) && value > 0 ? value : 4096;
}
