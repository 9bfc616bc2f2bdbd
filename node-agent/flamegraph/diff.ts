import type { FoldedStack } from './folded.js';
import { buildFrameTree, type FrameNode } from './frame-tree.js';
import { renderFrameTreeSvg, type FlameGraphOptions } from './svg.js';

/*
 * A differential flame graph (Brendan Gregg's difffolded.pl + flamegraph.pl): the frames are
 * those of the second profile ("after"), sized by its samples; each is coloured by how its
 * samples changed from the first ("before"): red grew, blue shrank, the deeper the colour the
 * larger the change against the largest one. By default "before" is scaled to the same total
 * first, so groups of different sizes compare by share, not by count.
 */

export interface DiffOptions extends Omit<FlameGraphOptions, 'frameFill' | 'frameNote' | 'legend'> {
  /** Compare counts as they are instead of scaling "before" to the total of "after". */
  absolute?: boolean;
  /** Names of the two sides, for the legend ("6.1.0-18", "6.8.0-40"). */
  beforeName?: string;
  afterName?: string;
}

export interface FrameChange {
  before: number;
  after: number;
  delta: number;
}

/** Per frame of the "after" tree: its (scaled) "before" samples and the change. */
export function frameChanges(before: FrameNode, after: FrameNode, scale: number): Map<FrameNode, FrameChange> {
  const changes = new Map<FrameNode, FrameChange>();
  const walk = (a: FrameNode, b: FrameNode | undefined): void => {
    const previous = (b?.total ?? 0) * scale;
    changes.set(a, { before: previous, after: a.total, delta: a.total - previous });
    const byName = new Map(b?.children.map((c) => [c.name, c]) ?? []);
    for (const child of a.children) walk(child, byName.get(child.name));
  };
  walk(after, before);
  return changes;
}

/** Gregg's colour scale: white for no change, to full red (grew) or blue (shrank) at the largest change. */
export function changeColor(delta: number, maxDelta: number): string {
  if (maxDelta === 0 || delta === 0) return 'rgb(250,250,250)';
  const fade = Math.round((210 * (maxDelta - Math.abs(delta))) / maxDelta);
  return delta > 0 ? `rgb(255,${fade},${fade})` : `rgb(${fade},${fade},255)`;
}

function percent(part: number, total: number): string {
  const value = total > 0 ? (100 * part) / total : 0;
  return `${value >= 0 ? '+' : ''}${value.toFixed(2)}%`;
}

/** The differential flame graph of two profiles as one self-contained SVG. */
export function renderDiffFlameGraphSvg(before: FoldedStack[], after: FoldedStack[], options: DiffOptions = {}): string {
  const beforeTree = buildFrameTree(before);
  const afterTree = buildFrameTree(after);
  const scale = options.absolute || beforeTree.total === 0 ? 1 : afterTree.total / beforeTree.total;
  const changes = frameChanges(beforeTree, afterTree, scale);
  let maxDelta = 0;
  for (const [node, change] of changes) if (node !== afterTree) maxDelta = Math.max(maxDelta, Math.abs(change.delta));
  const total = afterTree.total;
  const beforeName = options.beforeName ?? 'before';
  const afterName = options.afterName ?? 'after';
  return renderFrameTreeSvg(afterTree, {
    ...options,
    title: options.title ?? `Differential flame graph: ${beforeName} → ${afterName}`,
    subtitle:
      options.subtitle ??
      `widths: ${afterName}; colours: change from ${beforeName}${options.absolute ? '' : ` (scaled to the same total, x${scale.toFixed(3)})`}`,
    frameFill: (node) => (node === afterTree ? 'rgb(200,200,200)' : changeColor(changes.get(node)!.delta, maxDelta)),
    frameNote: (node) => {
      const change = changes.get(node)!;
      return `${percent(change.delta, total)} (${beforeName} ${Math.round(change.before)})`;
    },
    legend: `red grew, blue shrank from ${beforeName} to ${afterName}; frames only in ${beforeName} are not drawn (swap the two to see them).`,
  });
}
