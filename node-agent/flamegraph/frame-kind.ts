import { frameMarks } from './collapse-options.js';

export type FrameKind = 'kernel' | 'jit' | 'inlined' | 'user';

/** What kind of code a frame is, from the mark the collapser appended ("_[k]", "_[j]", "_[i]"). */
export function frameKind(name: string): FrameKind {
  if (name.endsWith(frameMarks.kernel)) return 'kernel';
  if (name.endsWith(frameMarks.jit)) return 'jit';
  if (name.endsWith(frameMarks.inlined)) return 'inlined';
  return 'user';
}

/** The frame's name without its mark. */
export function displayName(name: string): string {
  return frameKind(name) === 'user' ? name : name.slice(0, -4);
}
