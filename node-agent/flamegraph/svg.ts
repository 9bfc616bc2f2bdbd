import { frameKind, displayName, type FrameKind } from './frame-kind.js';
import type { FoldedStack } from './folded.js';
import { buildFrameTree, maxDepth, placeFrames, type FrameNode } from './frame-tree.js';
import { flameGraphScript } from './svg-script.js';

export interface FlameGraphOptions {
  /** A frame's fill colour instead of the colour of its kind (a differential graph colours by change). */
  frameFill?: (node: FrameNode) => string;
  /** Words after a frame's count and share in its tooltip ("+12.3%"). */
  frameNote?: (node: FrameNode) => string | undefined;
  /** The line at the bottom before one hovers; by default the total and what the colours mean. */
  legend?: string;
  title?: string;
  /** A second line under the title (what was profiled, when, how). */
  subtitle?: string;
  /** What the counts are: "samples" unless they are weights such as nanoseconds. */
  countName?: string;
  /** Image width in pixels. */
  width?: number;
  /** Frames narrower than this many pixels are left out (they could not be seen or clicked). */
  minWidthPx?: number;
}

const frameHeight = 16;
const fontSize = 12;
/** Average glyph width of the font relative to its size, for fitting labels. */
const charWidth = fontSize * 0.59;
const xpad = 10;
const top = fontSize * 5;
const bottom = fontSize * 2 + 10;

/**
 * An interactive flame graph as one self-contained SVG: one rect per frame, its width
 * proportional to its samples, a title with the count and share, and an embedded script for
 * hover details, click-to-zoom, search with the matched share, and reset zoom.
 */
export function renderFlameGraphSvg(stacks: FoldedStack[], options: FlameGraphOptions = {}): string {
  return renderFrameTreeSvg(buildFrameTree(stacks), options);
}

/** The same, for a frame tree already built. */
export function renderFrameTreeSvg(root: FrameNode, options: FlameGraphOptions = {}): string {
  const width = options.width ?? 1200;
  const minWidthPx = options.minWidthPx ?? 0.1;
  const countName = options.countName ?? 'samples';
  const total = root.total;
  const usable = width - 2 * xpad;
  const height = top + (maxDepth(root) + 1) * frameHeight + bottom;
  const scale = total > 0 ? usable / total : 0;

  const frames: string[] = [];
  for (const { node, depth, start } of placeFrames(root)) {
    const w = node.total * scale;
    if (depth > 0 && w < minWidthPx) continue;
    const x = xpad + start * scale;
    const y = height - bottom - (depth + 1) * frameHeight;
    const name = depth === 0 ? node.name : displayName(node.name);
    const kind: FrameKind | 'root' = depth === 0 ? 'root' : frameKind(node.name);
    const share = total > 0 ? (100 * node.total) / total : 0;
    const note = options.frameNote?.(node);
    const fill = options.frameFill?.(node) ?? frameColor(kind, name);
    frames.push(
      `<g class="frame" data-start="${start}" data-samples="${node.total}" data-depth="${depth}">` +
        `<title>${escapeXml(`${name} (${formatCount(node.total)} ${countName}, ${share.toFixed(2)}%${note ? `; ${note}` : ''})`)}</title>` +
        `<rect x="${x.toFixed(2)}" y="${y}" width="${w.toFixed(2)}" height="${frameHeight - 1}" rx="2" ry="2" fill="${fill}"/>` +
        `<text x="${(x + 3).toFixed(2)}" y="${y + frameHeight - 4.5}">${escapeXml(fitLabel(name, w))}</text>` +
        '</g>',
    );
  }

  const title = options.title ?? 'Flame Graph';
  const defaultDetails = `${formatCount(total)} ${countName}. Hover for details, click to zoom; ${options.legend ?? 'kernel frames orange, user red, JIT green.'}`;
  return [
    '<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
    `<svg version="1.1" id="flamegraph" xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}"` +
      ` data-total="${total}" data-xpad="${xpad}" data-usable-width="${usable}" data-char-width="${charWidth}">`,
    `<style>${style}</style>`,
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#f8f8f8"/>`,
    `<text id="title" x="${width / 2}" y="${fontSize * 2}">${escapeXml(title)}</text>`,
    options.subtitle ? `<text id="subtitle" x="${width / 2}" y="${fontSize * 3.3}">${escapeXml(options.subtitle)}</text>` : '',
    `<text id="unzoom" class="hide" x="${xpad}" y="${fontSize * 2}">Reset Zoom</text>`,
    `<text id="search-button" x="${width - xpad - 250}" y="${fontSize * 4.3}">Search</text>`,
    `<foreignObject x="${width - xpad - 200}" y="${fontSize * 3}" width="200" height="22">` +
      '<input xmlns="http://www.w3.org/1999/xhtml" id="search" type="text" placeholder="regular expression" style="width:190px;font:12px Verdana,sans-serif"/>' +
      '</foreignObject>',
    `<text id="matched" x="${width - xpad}" y="${height - fontSize}"> </text>`,
    `<text id="details" x="${xpad}" y="${height - fontSize}">${escapeXml(defaultDetails)}</text>`,
    `<g id="frames">${frames.join('\n')}</g>`,
    `<script type="text/ecmascript"><![CDATA[${flameGraphScript}]]></script>`,
    '</svg>\n',
  ]
    .filter((line) => line !== '')
    .join('\n');
}

const style = [
  'text { font-family: Verdana, sans-serif; font-size: 12px; fill: #000; }',
  '#title { text-anchor: middle; font-size: 17px; }',
  '#subtitle { text-anchor: middle; fill: #555; }',
  '#matched { text-anchor: end; }',
  '#unzoom, #search-button, .frame { cursor: pointer; }',
  '.frame text { pointer-events: none; }',
  '.frame:hover rect { stroke: #000; stroke-width: 0.5; }',
  '.hide { display: none; }',
  '.parent { opacity: 0.5; }',
  '.match rect { fill: rgb(230, 0, 230); }',
].join(' ');

/** The label that fits a frame of `widthPx`, cut with ".." (the embedded script fits the same way). */
function fitLabel(name: string, widthPx: number): string {
  const chars = Math.floor((widthPx - 6) / charWidth);
  if (chars < 3) return '';
  return name.length <= chars ? name : `${name.slice(0, chars - 2)}..`;
}

/** Colours by kind, varied per name but stable across graphs (a name keeps its colour). */
function frameColor(kind: FrameKind | 'root', name: string): string {
  const h = nameHash(name);
  const v1 = (h & 0xff) / 255;
  const v2 = ((h >>> 8) & 0xff) / 255;
  const v3 = ((h >>> 16) & 0xff) / 255;
  const rgb = (r: number, g: number, b: number): string => `rgb(${Math.round(r)},${Math.round(g)},${Math.round(b)})`;
  switch (kind) {
    case 'root':
      return 'rgb(200,200,200)';
    case 'kernel':
      return rgb(190 + 65 * v1, 90 + 65 * v2, 0);
    case 'jit':
      return rgb(50 + 60 * v1, 200 + 55 * v2, 50 + 60 * v3);
    case 'inlined':
      return rgb(50 + 60 * v1, 165 + 55 * v2, 165 + 55 * v3);
    default:
      return rgb(200 + 55 * v1, 50 + 80 * v2, 50 + 80 * v2);
  }
}

function nameHash(name: string): number {
  let hash = 0x811c9dc5;
  for (let i = 0; i < name.length; i++) {
    hash ^= name.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

/** 1234567 -> "1,234,567"; fractions keep two decimals. */
function formatCount(count: number): string {
  return Number.isInteger(count) ? count.toLocaleString('en-US') : count.toLocaleString('en-US', { maximumFractionDigits: 2 });
}

const notXmlChar = /[^\t\n\r\x20-\uD7FF\uE000-\uFFFD\u{10000}-\u{10FFFF}]/gu;

/** Escapes markup, and replaces characters XML cannot hold at all (control bytes) with U+FFFD. */
function escapeXml(text: string): string {
  return text.replace(notXmlChar, '\uFFFD').replace(/[&<>"']/g, (c) => `&${{ '&': 'amp', '<': 'lt', '>': 'gt', '"': 'quot', "'": 'apos' }[c]!};`);
}
