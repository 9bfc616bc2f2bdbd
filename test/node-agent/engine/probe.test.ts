import { watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { probeNode } from '../../../node-agent/engine/probe.js';
import { instancePrefix } from '../../../node-agent/engine/tracefs.js';

/** Every path under a directory with its kind, size, contents and modification time. */
async function snapshot(dir: string): Promise<Record<string, string>> {
  const entries: Record<string, string> = {};
  const walk = async (path: string): Promise<void> => {
    const info = await stat(path);
    if (info.isDirectory()) {
      entries[path] = `dir mtime ${info.mtimeMs}`;
      for (const name of await readdir(path)) await walk(join(path, name));
    } else {
      entries[path] = `file mtime ${info.mtimeMs}: ${await readFile(path, 'utf8')}`;
    }
  };
  await walk(dir);
  return entries;
}

describe('the node probe switches nothing on', () => {
  let fake: string;

  beforeAll(async () => {
    // A stand-in tracefs that lists the function tracer and allows instances, as a distribution kernel's does.
    fake = await mkdtemp(join(tmpdir(), 'ksleuth-fake-tracefs-'));
    await writeFile(join(fake, 'trace'), '');
    await writeFile(join(fake, 'available_events'), 'block:block_rq_issue\nsched:sched_switch\n');
    await writeFile(join(fake, 'available_tracers'), 'blk function_graph function nop\n');
    await writeFile(join(fake, 'current_tracer'), 'nop\n');
    await mkdir(join(fake, 'instances'));
  });

  afterAll(async () => {
    await rm(fake, { recursive: true, force: true });
  });

  it('reads what tracefs offers and writes nothing to it: no instance, no tracer switched', async () => {
    const before = await snapshot(fake);
    const facts = await probeNode({ tracefsCandidates: [fake] });
    expect(await snapshot(fake)).toEqual(before);
    expect(facts.tracefs).toBe(fake);
    expect(facts.capabilities.tracers).toEqual(['blk', 'function_graph', 'function', 'nop']);
    expect(facts.capabilities.tracefsInstances).toBe(true);
    expect(facts.events).toEqual(new Set(['block:block_rq_issue', 'sched:sched_switch']));
  });

  it('creates no tracefs instance on the real kernel while it probes', async () => {
    const instances = '/sys/kernel/tracing/instances';
    const seen: string[] = [];
    const watcher = watch(instances, (_event, name) => {
      if (name?.startsWith(instancePrefix)) seen.push(name);
    });
    try {
      const facts = await probeNode();
      // The listed tracers, as the kernel lists them; whether it lets one be used is found by the capture that asks.
      expect(facts.capabilities.tracers).toEqual((await readFile('/sys/kernel/tracing/available_tracers', 'utf8')).trim().split(/\s+/));
      await new Promise((resolve) => setTimeout(resolve, 100));
    } finally {
      watcher.close();
    }
    expect(seen.filter((name) => name.includes('probe'))).toEqual([]);
  });
});
