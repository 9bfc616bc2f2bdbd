import { execFile } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { projectRoot } from '../../lib/paths.js';

/*
 * What a person sees: the CLI under a real pseudo-terminal (script(1) from util-linux), its
 * output replayed as a terminal would draw it (carriage returns, erase-line, newlines).
 */

const exec = promisify(execFile);
const cli = join(projectRoot, 'bin', 'ksleuth');
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'ksleuth-tty-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Runs a command line in a pseudo-terminal 120 columns wide and returns the raw bytes it wrote. */
async function inTerminal(command: string): Promise<string> {
  const { stdout } = await exec('script', ['-q', '-e', '-c', `stty cols 120; ${command}`, '/dev/null'], {
    maxBuffer: 32 << 20,
    env: { ...process.env, TERM: 'xterm' },
  });
  return stdout;
}

const esc = String.fromCharCode(0x1b);

/** The lines left on the screen after a terminal draws `raw`: \r returns to column 0, ESC[2K erases the line. */
function screen(raw: string): string[] {
  const lines: string[] = [];
  let line: string[] = [];
  let column = 0;
  for (let i = 0; i < raw.length; i++) {
    const c = raw[i]!;
    if (c === '\n') {
      lines.push(line.join('').trimEnd());
      line = [];
      column = 0;
    } else if (c === '\r') column = 0;
    else if (c === esc) {
      // A control sequence: ESC [ digits letter. Only "erase line" (2K) matters here.
      const sequence = /^\[(\d*)([A-Za-z])/.exec(raw.slice(i + 1));
      if (sequence?.[2] === 'K' && sequence[1] === '2') line = [];
      i += sequence?.[0].length ?? 0;
    } else line[column++] = c;
  }
  if (line.length > 0) lines.push(line.join('').trimEnd());
  return lines;
}

describe('ksleuth investigate --local on a terminal', () => {
  it('shows the progress line and the result, and no log lines', async () => {
    const raw = await inTerminal(`${cli} investigate --local --capture memory,slab --duration 3s --out ${join(dir, 'quiet')}`);
    // The progress line was drawn (a spinner and the elapsed time) and erased again.
    expect(raw.replaceAll(esc, '<ESC>')).toMatch(/\r<ESC>\[2K[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] \ds\/3s/);
    expect(raw).not.toMatch(/"msg"|"level"|Capture finished/);
    const shown = screen(raw).filter((l) => l !== '');
    expect(shown[0]).toMatch(/: kernel \d+\.\d+.*, 3s$/);
    expect(shown).toContainEqual(expect.stringMatching(/^CAPTURE\s+STATUS\s+FINDINGS\s+SUMMARY$/));
    expect(shown).toContainEqual(expect.stringMatching(/^memory\s+Succeeded/));
    expect(shown).toContainEqual(expect.stringMatching(/^slab\s+Succeeded/));
    expect(shown.some((l) => /^[⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏] /.test(l))).toBe(false);
  }, 60_000);

  it('with -v, puts readable log lines above the progress line', async () => {
    const raw = await inTerminal(`${cli} investigate --local -v --capture memory --duration 2s --out ${join(dir, 'verbose')}`);
    const shown = screen(raw);
    const finished = shown.filter((l) => l.startsWith('info: Capture finished'));
    expect(finished).toEqual([expect.stringMatching(/^info: Capture finished \(.*findings=\d+/)]);
    expect(raw).not.toContain('"msg"');
    // Each log line stands on its own line: the progress line was erased before it, not glued to it.
    for (const line of shown) expect(line).not.toMatch(/.\s*info: /);
  }, 60_000);
});
