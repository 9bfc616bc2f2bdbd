import { execFile } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { releaseFilePagesPeriodically } from '../../../node-agent/agent/file-pages.js';
import { readSyslogDmesg, readSyslogNative, syslogToKmsg } from '../../../node-agent/engine/kmsg-reader.js';
import { parseKmsg } from '../../../node-agent/engine/kmsg-record.js';
import { type AgentNative, agentNative, nativeAddonPath } from '../../../node-agent/engine/native.js';
import type { Logger } from '../../../lib/log.js';
import { projectRoot } from '../../../lib/paths.js';

const run = promisify(execFile);

/** Runs `script` in a fresh node process with the addon as `native`; its stdout parsed as JSON. */
async function inChild(script: string, wrapper: string[] = []): Promise<Record<string, unknown>> {
  const program = `const native = require(${JSON.stringify(nativeAddonPath)});\n${script}`;
  const { stdout } = await run(wrapper[0] ?? process.execPath, [...wrapper.slice(1), ...(wrapper.length ? [process.execPath] : []), '-e', program]);
  return JSON.parse(stdout) as Record<string, unknown>;
}

let native: AgentNative;

beforeAll(async () => {
  await run(process.execPath, [join(projectRoot, 'hack', 'build-native.mjs'), '--required']);
  native = agentNative()!;
  expect(native).toBeDefined();
});

describe('the agent’s native addon', () => {
  it('reads the kernel log through syslog(2) as dmesg --syslog --raw prints it, new records included', async () => {
    const marker = `ksleuth-selftest-${randomBytes(4).toString('hex')}`;
    await writeFile('/dev/kmsg', `<6>${marker}: native syslog\n`);
    const [fromSyscall, fromDmesg] = [readSyslogNative(native), await readSyslogDmesg()];
    const line = (text: string) => text.split('\n').find((l) => l.includes(marker));
    expect(line(fromSyscall)).toMatch(new RegExp(`^<14>\\[\\s*\\d+\\.\\d{6}\\] ${marker}: native syslog$`));
    expect(line(fromSyscall)).toBe(line(fromDmesg));
    // The same records up to the marker: the ring buffer's newest bytes, as dmesg reads them.
    const upTo = (text: string) => text.slice(0, text.indexOf(marker)).split('\n').slice(-50);
    expect(upTo(fromSyscall)).toEqual(upTo(fromDmesg));
    const records = parseKmsg(
      syslogToKmsg(fromSyscall)
        .map((r) => r.record)
        .join(''),
    );
    expect(records.find((r) => r.message.startsWith(marker))).toMatchObject({ facility: 1, level: 6 });
    expect(native.syslogBufferSize()).toBeGreaterThanOrEqual(fromSyscall.length);
  });

  it('refuses a reader without CAP_SYSLOG where kernel.dmesg_restrict is 1, with EPERM, and the reader says what is missing', async () => {
    const restricted = (await readFile('/proc/sys/kernel/dmesg_restrict', 'utf8')).trim() === '1';
    const answer = await inChild(
      'try { native.syslogReadAll(Buffer.alloc(64)); console.log("{}"); } catch (e) { console.log(JSON.stringify({ code: e.code, message: e.message })); }',
      ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups', '--inh-caps=-all', '--bounding-set=-all'],
    );
    expect(answer).toEqual(restricted ? { code: 'EPERM', message: 'syslog(SYSLOG_ACTION_READ_ALL): Operation not permitted' } : {});
    const denied = (): never => {
      throw Object.assign(new Error('syslog(SYSLOG_ACTION_READ_ALL): Operation not permitted'), { code: 'EPERM' });
    };
    expect(() => readSyslogNative({ syslogBufferSize: denied, syslogReadAll: denied, releaseFilePages: denied })).toThrow(
      'syslog(2) failed: syslog(SYSLOG_ACTION_READ_ALL): Operation not permitted (reading the kernel log needs CAP_SYSLOG)',
    );
    expect(() => native.syslogReadAll('not a buffer' as unknown as Buffer)).toThrow(/needs a Buffer/);
  });

  it('drops the mappings of start-up pages: the resident file pages shrink and the process runs on', async () => {
    const answer = await inChild(`
      const { readFileSync } = require('node:fs');
      const { createHash } = require('node:crypto');
      const fileKb = () => Number(/RssFile:\\s+(\\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))[1]);
      const before = fileKb();
      const released = native.releaseFilePages();
      const after = fileKb();
      // Code in the binary, libc and relocated read-only data all still work.
      const work = createHash('sha256').update('ksleuth').digest('hex') + JSON.stringify(/a(b+)c/.exec('xabbbc')) + new Date(0).toISOString();
      console.log(JSON.stringify({ before, after, released, work }));
    `);
    expect((answer.released as { bytes: number }).bytes).toBeGreaterThan(50 * 1024 * 1024);
    expect((answer.released as { mappings: number }).mappings).toBeGreaterThan(3);
    expect(answer.after as number).toBeLessThan((answer.before as number) / 2);
    expect(answer.work).toBe(`${createHash('sha256').update('ksleuth').digest('hex')}["abbbc","bbb"]1970-01-01T00:00:00.000Z`);
  });

  it('releases them at once and then periodically until stopped', () => {
    vi.useFakeTimers();
    try {
      const released: { bytes: number; mappings: number }[] = [];
      const log = { debug: (fields: { bytes: number; mappings: number }) => released.push(fields), warn: () => undefined } as unknown as Logger;
      const stop = releaseFilePagesPeriodically({ log, everyMs: 1000 });
      expect(released).toHaveLength(1);
      expect(released[0]!.bytes).toBeGreaterThan(0);
      vi.advanceTimersByTime(999);
      expect(released).toHaveLength(1);
      vi.advanceTimersByTime(1001);
      expect(released).toHaveLength(3);
      stop();
      vi.advanceTimersByTime(10_000);
      expect(released).toHaveLength(3);
    } finally {
      vi.useRealTimers();
    }
  });
});
