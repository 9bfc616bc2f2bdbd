import type { FoldedStack } from './folded.js';

/** A frame in the merged call tree: `total` samples include its callees, `self` do not. */
export interface FrameNode {
  name: string;
  total: number;
  self: number;
  /** Sorted by name, as flame graphs draw them left to right. */
  children: FrameNode[];
}

interface BuildNode {
  name: string;
  total: number;
  self: number;
  children: Map<string, BuildNode>;
}

/** Merges stacks into one tree under a root named "all". */
export function buildFrameTree(stacks: FoldedStack[], rootName = 'all'): FrameNode {
  const root: BuildNode = { name: rootName, total: 0, self: 0, children: new Map() };
  for (const stack of stacks) {
    if (!(stack.count > 0)) continue;
    root.total += stack.count;
    let node = root;
    for (const frame of stack.frames) {
      let child = node.children.get(frame);
      if (!child) {
        child = { name: frame, total: 0, self: 0, children: new Map() };
        node.children.set(frame, child);
      }
      child.total += stack.count;
      node = child;
    }
    node.self += stack.count;
  }
  return freeze(root);
}

function freeze(node: BuildNode): FrameNode {
  const children = [...node.children.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0)).map(freeze);
  return { name: node.name, total: node.total, self: node.self, children };
}

/** A frame placed in the graph: `start` is the number of samples left of it at its depth. */
export interface PlacedFrame {
  node: FrameNode;
  depth: number;
  start: number;
}

/** Every frame with its position, parents before children. */
export function* placeFrames(root: FrameNode): Generator<PlacedFrame> {
  const pending: PlacedFrame[] = [{ node: root, depth: 0, start: 0 }];
  while (pending.length > 0) {
    const frame = pending.pop()!;
    yield frame;
    let start = frame.start;
    const children: PlacedFrame[] = [];
    for (const child of frame.node.children) {
      children.push({ node: child, depth: frame.depth + 1, start });
      start += child.total;
    }
    for (let i = children.length - 1; i >= 0; i--) pending.push(children[i]!);
  }
}

/** The deepest depth in the tree (the root is 0). */
export function maxDepth(root: FrameNode): number {
  let deepest = 0;
  for (const frame of placeFrames(root)) deepest = Math.max(deepest, frame.depth);
  return deepest;
}
