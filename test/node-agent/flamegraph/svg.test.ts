import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { collapsePerfScript } from '../../../node-agent/flamegraph/collapse-stream.js';
import { decodeBytes, parseFolded, type FoldedStack } from '../../../node-agent/flamegraph/folded.js';
import { displayName } from '../../../node-agent/flamegraph/frame-kind.js';
import { renderFlameGraphSvg } from '../../../node-agent/flamegraph/svg.js';

const fixtures = join(import.meta.dirname, '../../fixtures/flamegraph');
const usableWidth = 1180; // 1200 px wide, 10 px padding each side

function recordedStacks(): FoldedStack[] {
  const collapser = collapsePerfScript(readFileSync(join(fixtures, 'mixed-pid-tid.perf-script.txt')), { all: true });
  return parseFolded(decodeBytes(collapser.foldedText()));
}

interface DrawnFrame {
  start: number;
  samples: number;
  depth: number;
  title: string;
  x: number;
  width: number;
}

function drawnFrames(svg: string): DrawnFrame[] {
  const pattern =
    /<g class="frame" data-start="(\d+)" data-samples="(\d+)" data-depth="(\d+)"><title>([^<]*)<\/title><rect x="([\d.]+)" y="\d+" width="([\d.]+)"/g;
  return [...svg.matchAll(pattern)].map((m) => ({
    start: Number(m[1]),
    samples: Number(m[2]),
    depth: Number(m[3]),
    title: unescapeXml(m[4]!),
    x: Number(m[5]),
    width: Number(m[6]),
  }));
}

function unescapeXml(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, e: string) => ({ amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" })[e]!);
}

/** Every call path (frame prefix) of the stacks with its samples, computed without the renderer. */
function expectedFrames(stacks: FoldedStack[]): Map<string, { name: string; depth: number; samples: number }> {
  const frames = new Map<string, { name: string; depth: number; samples: number }>();
  for (const stack of stacks) {
    for (let depth = 1; depth <= stack.frames.length; depth++) {
      const key = stack.frames.slice(0, depth).join('\u0000');
      const frame = frames.get(key) ?? { name: displayName(stack.frames[depth - 1]!), depth, samples: 0 };
      frame.samples += stack.count;
      frames.set(key, frame);
    }
  }
  return frames;
}

/** Open and close tags balance (the SVG is well-formed enough for a browser's XML parser). */
function unbalancedTag(xml: string): string | undefined {
  const body = xml.replace(/<!\[CDATA\[[\s\S]*?\]\]>/g, '').replace(/<\?[\s\S]*?\?>/g, '');
  const open: string[] = [];
  for (const m of body.matchAll(/<(\/?)([A-Za-z][\w:-]*)[^>]*?(\/?)>/g)) {
    if (m[3]) continue;
    if (!m[1]) open.push(m[2]!);
    else if (open.pop() !== m[2]) return m[2];
  }
  return open.length > 0 ? open[open.length - 1] : undefined;
}

describe('flame graph SVG', () => {
  const stacks = recordedStacks();
  const total = stacks.reduce((sum, s) => sum + s.count, 0);
  const svg = renderFlameGraphSvg(stacks, { title: 'CPU <profile> & more' });
  const drawn = drawnFrames(svg);

  it('draws one rect per frame that is at least 0.1 px wide, with width proportional to samples', () => {
    const expected = [...expectedFrames(stacks).values()].filter((f) => (f.samples * usableWidth) / total >= 0.1);
    expect(total).toBeGreaterThan(100);
    expect(drawn.length).toBe(expected.length + 1); // plus the root, "all"
    const root = drawn.find((f) => f.depth === 0)!;
    expect(root).toMatchObject({ samples: total, width: usableWidth, x: 10 });
    for (const frame of drawn) expect(frame.width).toBeCloseTo((frame.samples * usableWidth) / total, 1);
    const key = (f: { depth: number; samples: number }): string => `${f.depth}:${f.samples}`;
    expect(
      drawn
        .filter((f) => f.depth > 0)
        .map(key)
        .sort(),
    ).toEqual(expected.map(key).sort());
  });

  it('places children side by side within their parent', () => {
    for (const frame of drawn.filter((f) => f.depth > 0)) {
      const parent = drawn.find((p) => p.depth === frame.depth - 1 && p.start <= frame.start && frame.start + frame.samples <= p.start + p.samples);
      expect(parent).toBeDefined();
      expect(frame.x).toBeCloseTo(10 + (frame.start * usableWidth) / total, 1);
    }
  });

  it('titles every frame with its name, sample count and share, without collapser marks', () => {
    for (const frame of drawn) {
      const m = /^(.*) \(([\d,]+) samples, (\d+\.\d\d)%\)$/.exec(frame.title);
      expect(m, frame.title).not.toBeNull();
      expect(Number(m![2]!.replaceAll(',', ''))).toBe(frame.samples);
      expect(m![3]).toBe(((100 * frame.samples) / total).toFixed(2));
      expect(m![1]).not.toMatch(/_\[[kji]\]$/);
    }
    const readZero = drawn.find((f) => f.title.startsWith('read_zero '));
    const readZeroSamples = stacks.filter((s) => s.frames.includes('read_zero_[k]')).reduce((sum, s) => sum + s.count, 0);
    expect(readZero?.samples).toBe(readZeroSamples);
  });

  it('is self-contained: escaped text, balanced tags, the interactive script embedded', () => {
    expect(svg.startsWith('<?xml')).toBe(true);
    expect(svg).toContain('CPU &lt;profile&gt; &amp; more');
    expect(unbalancedTag(svg)).toBeUndefined();
    expect(svg).toMatch(/<script type="text\/ecmascript"><!\[CDATA\[[\s\S]*addEventListener\('click'[\s\S]*\]\]><\/script>/);
    expect(svg).toContain('id="search"');
    expect(svg).toContain('id="unzoom"');
    expect(svg).not.toMatch(/(href|src)="https?:/);
  });

  it('replaces bytes XML cannot hold', () => {
    const odd = renderFlameGraphSvg([{ frames: ['a\u000bb', 'c'], count: 2 }]);
    expect(odd).toContain('a\uFFFDb');
    expect(odd).not.toContain('\u000b');
  });
});

const chromium = ['/usr/bin/chromium', '/usr/bin/chromium-browser'].find((p) => existsSync(p));

/** Runs in the page: acts as a person would on the SVG in an iframe and reports what it saw. */
const harness = `<!doctype html><html><body><iframe id="f" src="flame.svg" width="1200" height="900"></iframe><script>
document.getElementById('f').addEventListener('load', () => {
  const doc = document.getElementById('f').contentDocument;
  const frames = [...doc.querySelectorAll('g.frame')];
  const title = (g) => g.querySelector('title').textContent;
  const width = (g) => Number(g.querySelector('rect').getAttribute('width'));
  const target = frames.find((g) => title(g) === decodeURIComponent(location.hash.slice(1)));
  const rect = target.querySelector('rect');
  const r = { frames: frames.length, before: width(target) };
  rect.dispatchEvent(new MouseEvent('mouseover', { bubbles: true }));
  r.details = doc.getElementById('details').textContent;
  rect.dispatchEvent(new MouseEvent('click', { bubbles: true }));
  r.zoomed = width(target);
  r.hidden = frames.filter((g) => g.classList.contains('hide')).length;
  r.parents = frames.filter((g) => g.classList.contains('parent')).map(title);
  r.unzoomShown = !doc.getElementById('unzoom').classList.contains('hide');
  doc.getElementById('unzoom').dispatchEvent(new MouseEvent('click', { bubbles: true }));
  r.reset = width(target);
  r.hiddenAfterReset = frames.filter((g) => g.classList.contains('hide')).length;
  const box = doc.getElementById('search');
  box.value = 'vfs_|read_zero';
  box.dispatchEvent(new Event('input', { bubbles: true }));
  r.matched = doc.getElementById('matched').textContent;
  r.matchedFrames = frames.filter((g) => g.classList.contains('match')).length;
  doc.dispatchEvent(new KeyboardEvent('keydown', { key: 'Escape', bubbles: true }));
  r.matchedAfterEscape = frames.filter((g) => g.classList.contains('match')).length;
  const pre = document.createElement('pre');
  pre.id = 'result';
  pre.textContent = btoa(JSON.stringify(r));
  document.body.appendChild(pre);
});
</script></body></html>`;

describe.skipIf(!chromium)('flame graph SVG in headless Chromium', () => {
  it('shows details on hover, zooms on click, resets, and searches with the matched share', async () => {
    const stacks = recordedStacks();
    const total = stacks.reduce((sum, s) => sum + s.count, 0);
    const svg = renderFlameGraphSvg(stacks);
    const target = drawnFrames(svg).find((f) => f.title.startsWith('vfs_read '))!;
    const server = createServer((req, res) => {
      const svgFile = req.url === '/flame.svg';
      res.writeHead(200, { 'content-type': svgFile ? 'image/svg+xml' : 'text/html' });
      res.end(svgFile ? svg : harness);
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as AddressInfo).port;
    try {
      const { stdout } = await promisify(execFile)(
        chromium!,
        [
          '--headless',
          '--no-sandbox',
          '--disable-gpu',
          '--no-first-run',
          '--disable-background-networking',
          '--virtual-time-budget=10000',
          '--dump-dom',
          `http://127.0.0.1:${port}/harness.html#${encodeURIComponent(target.title)}`,
        ],
        { timeout: 90_000, maxBuffer: 16 * 1024 * 1024 },
      );
      const encoded = /<pre id="result">([^<]*)<\/pre>/.exec(stdout)?.[1];
      expect(encoded, 'the harness did not report (the SVG script or the page failed)').toBeDefined();
      const seen = JSON.parse(Buffer.from(encoded!, 'base64').toString('utf8')) as Record<string, unknown>;
      const matchedSamples = stacks.filter((s) => s.frames.some((f) => /vfs_|read_zero/.test(displayName(f)))).reduce((sum, s) => sum + s.count, 0);
      expect(seen).toMatchObject({
        before: target.width,
        details: target.title,
        zoomed: usableWidth,
        unzoomShown: true,
        reset: target.width,
        hiddenAfterReset: 0,
        matched: `Matched: ${((100 * matchedSamples) / total).toFixed(2)}%`,
        matchedAfterEscape: 0,
      });
      expect(seen.hidden).toBeGreaterThan(0);
      expect((seen.parents as string[]).map((t) => t.replace(/ \(.*$/, ''))).toEqual([
        'all',
        'dd',
        'read',
        'entry_SYSCALL_64_after_hwframe',
        'do_syscall_64',
        'ksys_read',
      ]);
      expect(seen.matchedFrames).toBeGreaterThan(1);
    } finally {
      server.close();
    }
  }, 120_000);
});
