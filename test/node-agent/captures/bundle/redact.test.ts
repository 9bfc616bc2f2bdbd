import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, stat } from 'node:fs/promises';
import { hostname, networkInterfaces, tmpdir } from 'node:os';
import { createServer, type Server } from 'node:net';
import { join, relative } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Manifest } from '../../../../node-agent/captures/bundle/manifest.js';
import { Redactor, redactKernelCommandLine } from '../../../../node-agent/captures/bundle/redact.js';
import { runForReal, type RealRun } from '../real-run.js';

const exec = promisify(execFile);

/** This machine's addresses that identify it (not loopback), and its interfaces' MACs. */
function hostAddresses(): { ips: string[]; macs: string[] } {
  const all = Object.values(networkInterfaces())
    .flat()
    .filter((a): a is NonNullable<typeof a> => a !== undefined && !a.internal);
  return {
    ips: [...new Set(all.map((a) => a.address.replace(/%.*$/, '')))],
    macs: [...new Set(all.map((a) => a.mac).filter((m) => m !== '00:00:00:00:00:00'))],
  };
}

describe('a bundle redacted on this machine', () => {
  let run: RealRun;
  let unpacked: string;
  let top: string;
  let files: Map<string, string>;
  let manifest: Manifest;
  // A socket this process owns, so that ss has a process name to redact whatever else runs here.
  let listener: Server;

  beforeAll(async () => {
    listener = createServer();
    await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
    run = await runForReal([{ bundle: { redact: ['addresses', 'hostnames', 'commandLines'] } }], 1);
    unpacked = await mkdtemp(join(tmpdir(), 'ksleuth-redacted-'));
    await exec('tar', ['-xzf', join(run.outDir, 'bundle-bundle.tar.gz'), '-C', unpacked]);
    [top] = (await readdir(unpacked)) as [string];
    files = new Map();
    // Pods' listings sit in netns/<inode>-<pod>/ (other tests' namespaces on this machine count as such).
    for (const entry of await readdir(join(unpacked, top), { recursive: true, withFileTypes: true })) {
      if (!entry.isFile()) continue;
      const path = join(entry.parentPath, entry.name);
      files.set(relative(join(unpacked, top), path), await readFile(path, 'utf8'));
    }
    manifest = JSON.parse(files.get('manifest.json')!) as Manifest;
  }, 120_000);

  afterAll(async () => {
    listener?.close();
    await run?.cleanup();
    if (unpacked) await rm(unpacked, { recursive: true, force: true });
  });

  it('keeps the structure: every item, the manifest, sizes that match, and says what was redacted', async () => {
    expect(run.report.captures[0]).toMatchObject({ kind: 'bundle', state: 'Succeeded' });
    expect([...files.keys()].sort()).toEqual([...manifest.files.map((f) => f.file), 'manifest.json'].sort());
    for (const entry of manifest.files) expect((await stat(join(unpacked, top, entry.file))).size, entry.file).toBe(entry.sizeBytes);
    expect(manifest.redacted).toEqual(['addresses', 'hostnames', 'commandLines']);
    expect(manifest.hostname).toBe('host-1');
    expect(top).toMatch(/^ksleuth-bundle-host-1-\d{8}T\d{6}Z$/);
    // Still useful: the outputs are there, only their identifying values changed.
    expect(files.get('ip-addr.txt')).toMatch(/inet ipv4-\d+\/\d+/);
    expect(files.get('sysctl.txt')).toMatch(/^kernel\.hostname = host-1$/m);
    expect(files.get('sysctl.txt')).toMatch(/^vm\.swappiness = \d+$/m);
    expect(files.get('meminfo.txt')).toMatch(/^MemTotal:/);
  });

  it('holds none of the host’s addresses, and gives one address one placeholder in every file', () => {
    const { ips, macs } = hostAddresses();
    expect(ips.length).toBeGreaterThan(0);
    for (const [name, text] of files) {
      for (const ip of ips) expect(text.includes(ip), `${ip} in ${name}`).toBe(false);
      for (const m of macs) expect(text.toLowerCase().includes(m.toLowerCase()), `${m} in ${name}`).toBe(false);
    }
    // The default route's source address is an address of an interface: the same placeholder in both files.
    const source = /src (ipv4-\d+)/.exec(files.get('ip-route.txt')!)?.[1];
    if (source) expect(files.get('ip-addr.txt')).toContain(`inet ${source}/`);
    expect(files.get('ss.txt')).toMatch(/127\.0\.0\.1:\d+/);
  });

  it('holds none of the host’s names', () => {
    const name = hostname();
    const asWord = new RegExp(`(?<![\\w./-])${name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?![\\w/-]|\\.\\w)`, 'i');
    for (const [file, text] of files) expect(asWord.test(text), `${name} in ${file}`).toBe(false);
    expect(files.get('uname.txt')).toMatch(/^Linux host-1 /);
  });

  it('holds no command line: kernel parameters keep their names only, init’s arguments and process names go', async () => {
    const real = (await readFile('/proc/cmdline', 'utf8')).trim();
    const cmdline = files.get('cmdline.txt')!.trim();
    expect(cmdline).toBe(redactKernelCommandLine(real));
    for (const value of real.split(/\s+/).filter((p) => p.includes('='))) {
      expect(cmdline).toContain(`${value.slice(0, value.indexOf('='))}=<redacted>`);
      expect(cmdline).not.toContain(value);
    }
    const boot = /Command line: (.*)/.exec(files.get('kernel-log.txt') ?? '')?.[1];
    if (boot) expect(boot).not.toMatch(/=(?!<redacted>)/);
    expect(files.get('ss.txt')).toMatch(/users:\(\("<redacted>",pid=\d+/);
    expect(files.get('ss.txt')).not.toMatch(/users:\(\("(?!<redacted>)/);
    for (const [file, text] of files) if (file.endsWith('/ss.txt')) expect(text, file).not.toMatch(/users:\(\("(?!<redacted>)/);
  });
});

describe('redaction rules', () => {
  const redactor = new Redactor(new Set(['addresses', 'hostnames', 'commandLines']), { hostnames: ['db-7.prod.example.com'] });

  it('replaces addresses with stable placeholders and keeps loopback, unspecified and versions', () => {
    const text = redactor
      .file(
        'x.txt',
        Buffer.from(
          'inet 10.1.2.3/24 brd 10.1.2.255 link/ether 52:54:00:12:34:56 inet6 fe80::5054:ff:fe12:3456/64 ::1 127.0.0.1 0.0.0.0 2001:db8::7 10.1.2.3 6.1.0-18 1.2.3.4.5',
        ),
      )
      .toString();
    expect(text).toBe('inet ipv4-1/24 brd ipv4-2 link/ether mac-1 inet6 ipv6-1/64 ::1 127.0.0.1 0.0.0.0 ipv6-2 ipv4-1 6.1.0-18 1.2.3.4.5');
  });

  it('replaces the node’s names but not words that only contain them', () => {
    const text = redactor.file('x.txt', Buffer.from('db-7.prod.example.com db-7 DB-7 db-7.swappiness db-70 /db-7/x')).toString();
    expect(text).toBe('host-1 host-2 host-2 db-7.swappiness db-70 /db-7/x');
  });
});
