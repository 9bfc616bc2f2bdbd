import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';
import { oomKillInCgroup } from '../helpers/oom.js';

// node with tsx as a loader: one process that gets SIGINT itself (the tsx binary relays signals
// to its child and kills it when the child is slow to acknowledge, as on a busy machine).
const cli = [process.execPath, '--import', 'tsx', join(projectRoot, 'cli', 'main.ts')];

interface Line {
  at: number;
  change: string;
  pattern: string;
  severity: string;
  title: string;
  evidence: string[];
  recommendation: string;
  id: string;
  source: string;
}

/** `ksleuth watch --local --json` as a process: its JSON lines with the time each arrived. */
class WatchProcess {
  readonly lines: Line[] = [];
  private stderr = '';
  private constructor(private readonly child: ChildProcess) {
    let buffered = '';
    child.stdout!.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const parts = buffered.split('\n');
      buffered = parts.pop()!;
      for (const part of parts) if (part.trim()) this.lines.push({ at: Date.now(), ...(JSON.parse(part) as Omit<Line, 'at'>) });
    });
    child.stderr!.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  static async start(args: string[]): Promise<WatchProcess> {
    const watch = new WatchProcess(
      spawn(cli[0]!, [...cli.slice(1), 'watch', '--local', '--json', '--no-state', ...args], { cwd: projectRoot, stdio: ['ignore', 'pipe', 'pipe'] }),
    );
    await watch.until(() => watch.stderr.includes('"Watch started"'), 60_000, 'the watch to start');
    return watch;
  }

  async until<T>(check: () => T | undefined | false, timeoutMs: number, what: string): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const result = check();
      if (result) return result;
      if (this.child.exitCode !== null) throw new Error(`ksleuth watch exited with ${this.child.exitCode} waiting for ${what}: ${this.stderr.slice(-2000)}`);
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; lines: ${JSON.stringify(this.lines.map((l) => l.title))}`);
      await sleep(50);
    }
  }

  async stop(): Promise<number | null> {
    if (this.child.exitCode !== null) return this.child.exitCode;
    const exited = new Promise<number | null>((resolve) => this.child.once('exit', (code) => resolve(code)));
    this.child.kill('SIGINT');
    return exited;
  }
}

describe('ksleuth watch --local', () => {
  it('reports a real OOM kill in a memory cgroup within 5 s, naming the killed task', async () => {
    const watch = await WatchProcess.start(['--interval', '1s']);
    try {
      const killed = await oomKillInCgroup('ksleuth-leaker');
      // Kills from the 5 minutes before the start are reported at once (an earlier test's, say): wait for the line naming this one.
      const namesThisKill = (e: string): boolean => e.startsWith(`killed pid ${killed.pid} (ksleuth-leaker) `);
      const line = await watch.until(() => watch.lines.find((l) => l.pattern === 'oom-kill' && l.evidence.some(namesThisKill)), 10_000, 'the oom-kill finding');
      expect(line.at - killed.at).toBeLessThan(5000);
      expect(line).toMatchObject({ severity: 'warning', source: 'kernel-log', id: 'kernel-log/oom-kill' });
      expect(['raised', 'repeated']).toContain(line.change);
      // Records from the last 5 minutes before the start count too (an earlier run's kill, say).
      expect(line.title).toMatch(/^A process was killed for exceeding its memory cgroup limit \(\d+ records? in the kernel log\): task ksleuth-leaker$/);
      expect(
        line.evidence.some((e) => /^oom-kill-cgroup task: (.+ ×\d+, )*ksleuth-leaker ×\d+/.test(e)),
        JSON.stringify(line.evidence),
      ).toBe(true);
      expect(line.recommendation).toMatch(/memory limit/);
    } finally {
      expect(await watch.stop()).toBe(0);
    }
  });

  describe('slab growth at a test-configured interval', () => {
    let dir: string;
    let config: string;

    beforeAll(async () => {
      dir = await mkdtemp(join(tmpdir(), 'ksleuth-watch-slab-'));
      config = join(dir, 'watch.json');
      // One-second samples of slab caches only; one trend over the last 40 s: at least 8 MiB,
      // rising in 60% of the steps and falling in at most 10%.
      const others = [
        'slab-cache-growth-days',
        'fragmentation-rising',
        'allocation-stalls-appear',
        'compaction-stalls-appear',
        'memory-pressure-climbs',
        'io-pressure-climbs',
        'close-wait-backlog-grows',
        'retransmits-climb',
      ];
      await writeFile(
        config,
        JSON.stringify({
          sampling: {
            slab: { intervalSeconds: 1 },
            memory: { enabled: false, intervalSeconds: 1 },
            pressure: { enabled: false, intervalSeconds: 1 },
            tcp: { enabled: false, intervalSeconds: 1 },
          },
          history: { tiers: [{ stepSeconds: 1, points: 600 }] },
          trends: [
            {
              id: 'slab-cache-growth',
              windowSeconds: 40,
              minPoints: 30,
              minIncrease: 8 * 1024 * 1024,
              minRiseShare: 0.6,
              maxFallShare: 0.1,
              minDailyShareOfMemory: 0,
            },
            ...others.map((id) => ({ id, enabled: false })),
          ],
        }),
      );
    });
    afterAll(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('finds none on an idle machine over 70 s', async () => {
      const watch = await WatchProcess.start(['--config', config]);
      await sleep(70_000);
      expect(await watch.stop()).toBe(0);
      expect(watch.lines.filter((l) => l.pattern === 'slab-growth-trend')).toEqual([]);
    }, 120_000);

    it('finds a steady leak of negative dentries within 70 s and names the dentry cache', async () => {
      const leakDir = join(dir, 'lookups');
      await mkdir(leakDir);
      const watch = await WatchProcess.start(['--config', config]);
      // stat() of names that do not exist: ~5000 negative dentries (~0.9 MiB) a second.
      const leak = spawn(process.execPath, [join(projectRoot, 'test', 'helpers', 'negative-dentries.mjs'), leakDir, '5000'], { stdio: 'ignore' });
      try {
        const line = await watch.until(() => watch.lines.find((l) => l.pattern === 'slab-growth-trend'), 70_000, 'the slab-growth-trend finding');
        // ~0.9 MiB/s would take all of this machine's memory within a day: critical.
        expect(line).toMatchObject({ change: 'raised', source: 'trend', id: 'trend/slab-cache-growth', severity: 'critical' });
        expect(line.title).toMatch(/^Slab cache dentry grew steadily by \d+\.\d MiB in \d+s/);
        expect(line.evidence[0]).toMatch(/^slab\.dentry\.bytes: .* rose in \d+ of \d+ steps of 1s, fell in \d+$/);
      } finally {
        leak.kill('SIGKILL');
        await watch.stop();
        // rmdir prunes the directory's dentries: the negative ones go with it (no drop_caches).
        await rm(leakDir, { recursive: true, force: true });
      }
    }, 120_000);
  });
});
