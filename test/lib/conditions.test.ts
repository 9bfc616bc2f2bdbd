import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../../lib/paths.js';
import { describe, expect, it } from 'vitest';
import { condition as conditionSchema } from '../../api/v1alpha1/common.js';
import {
  conditionsEqual,
  findCondition,
  formatTime,
  isConditionTrue,
  removeCondition,
  setCondition,
  setHealth,
  setNodeCondition,
  type Condition,
} from '../../lib/conditions.js';

const t0 = new Date('2025-03-01T10:00:00.123Z');
const t1 = new Date('2025-03-01T10:05:00.999Z');
const at = (date: Date) => () => date;

const ready = { type: 'Ready', status: 'False', reason: 'Waiting', message: 'waiting for nodes', observedGeneration: 1 } as const;

describe('setCondition', () => {
  it('adds a new condition with the clock time in whole seconds, valid against the API schema', () => {
    const list = setCondition(undefined, ready, at(t0));
    expect(list).toEqual([{ ...ready, lastTransitionTime: '2025-03-01T10:00:00Z' }]);
    expect(conditionSchema.safeParse(list[0]).success).toBe(true);
  });

  it('keeps lastTransitionTime when the status stays, but takes the new reason, message and generation', () => {
    const before = setCondition(undefined, ready, at(t0));
    const after = setCondition(before, { ...ready, reason: 'StillWaiting', message: '2 of 3 nodes', observedGeneration: 2 }, at(t1));
    expect(after[0]).toEqual({
      type: 'Ready',
      status: 'False',
      reason: 'StillWaiting',
      message: '2 of 3 nodes',
      observedGeneration: 2,
      lastTransitionTime: '2025-03-01T10:00:00Z',
    });
  });

  it('moves lastTransitionTime when the status flips', () => {
    const before = setCondition(undefined, ready, at(t0));
    const after = setCondition(before, { ...ready, status: 'True', reason: 'AllNodesReady', message: '' }, at(t1));
    expect(findCondition(after, 'Ready')?.lastTransitionTime).toBe('2025-03-01T10:05:00Z');
    expect(isConditionTrue(after, 'Ready')).toBe(true);
  });

  it('leaves the input list untouched and keeps the other conditions and their order', () => {
    const other = { type: 'Conflict', status: 'False', reason: 'NoConflict', message: '' } as const;
    const before = setCondition(setCondition(undefined, other, at(t0)), ready, at(t0));
    const frozen = structuredClone(before);
    const after = setCondition(before, { ...ready, status: 'True' }, at(t1));
    expect(before).toEqual(frozen);
    expect(after.map((c) => c.type)).toEqual(['Conflict', 'Ready']);
    expect(after[0]).toBe(before[0]);
  });

  it('omits observedGeneration when not given', () => {
    const [only] = setCondition([], { type: 'Complete', status: 'Unknown', reason: 'Pending', message: '' }, at(t0));
    expect(only).not.toHaveProperty('observedGeneration');
  });
});

describe('conditionsEqual', () => {
  const a: Condition[] = [
    { type: 'Ready', status: 'True', reason: 'Ok', message: 'fine', observedGeneration: 3, lastTransitionTime: '2025-01-01T00:00:00Z' },
    { type: 'Conflict', status: 'False', reason: 'None', message: '', lastTransitionTime: '2025-01-01T00:00:00Z' },
  ];

  it('ignores time and order', () => {
    const b = [
      { ...a[1]!, lastTransitionTime: '2030-01-01T00:00:00Z' },
      { ...a[0]!, lastTransitionTime: '2030-01-01T00:00:00Z' },
    ];
    expect(conditionsEqual(a, b)).toBe(true);
    expect(conditionsEqual(undefined, [])).toBe(true);
  });

  it.each([
    ['status', { status: 'False' as const }],
    ['reason', { reason: 'Other' }],
    ['message', { message: 'changed' }],
    ['observedGeneration', { observedGeneration: 4 }],
    ['type', { type: 'Applied' }],
  ])('notices a changed %s', (_field, change) => {
    const b = [{ ...a[0]!, ...change }, a[1]!];
    expect(conditionsEqual(a, b)).toBe(false);
  });

  it('notices an added or removed condition', () => {
    expect(conditionsEqual(a, removeCondition(a, 'Conflict'))).toBe(false);
    expect(conditionsEqual(removeCondition(a, 'Conflict'), a)).toBe(false);
  });

  it('says a re-set with the same decision changed nothing, so no status write is needed', () => {
    const again = setCondition(a, { type: 'Ready', status: 'True', reason: 'Ok', message: 'fine', observedGeneration: 3 }, at(t1));
    expect(conditionsEqual(a, again)).toBe(true);
    expect(again[0]!.lastTransitionTime).toBe('2025-01-01T00:00:00Z');
  });
});

describe('formatTime', () => {
  it('drops milliseconds', () => {
    expect(formatTime(new Date('2025-01-02T03:04:05.678Z'))).toBe('2025-01-02T03:04:05Z');
  });
});

describe('setNodeCondition', () => {
  const slab = { type: 'KernelSlabGrowth', status: 'True', reason: 'SlabGrowthTrend', message: 'dentry grows' } as const;

  it('stamps a new condition with the heartbeat and transition time, and no observedGeneration', () => {
    expect(setNodeCondition(undefined, slab, at(t0))).toEqual({
      ...slab,
      lastHeartbeatTime: '2025-03-01T10:00:00Z',
      lastTransitionTime: '2025-03-01T10:00:00Z',
    });
  });

  it('keeps lastTransitionTime while the status stays, moves the heartbeat, and moves both when it flips', () => {
    const first = setNodeCondition(undefined, slab, at(t0));
    const same = setNodeCondition(first, { ...slab, message: 'dentry grows faster' }, at(t1));
    expect(same).toMatchObject({ message: 'dentry grows faster', lastHeartbeatTime: '2025-03-01T10:05:00Z', lastTransitionTime: '2025-03-01T10:00:00Z' });
    const flipped = setNodeCondition(same, { ...slab, status: 'False', reason: 'NotDetected' }, at(t1));
    expect(flipped.lastTransitionTime).toBe('2025-03-01T10:05:00Z');
  });

  it('sets a transition time when the Node’s condition had none', () => {
    expect(setNodeCondition({ type: slab.type, status: 'True' }, slab, at(t1)).lastTransitionTime).toBe('2025-03-01T10:05:00Z');
  });
});

describe('every condition goes through setCondition', () => {
  it('no product code writes a lastTransitionTime itself', () => {
    const root = projectRoot;
    const files = (dir: string): string[] =>
      readdirSync(join(root, dir), { withFileTypes: true }).flatMap((entry) =>
        entry.isDirectory() ? files(join(dir, entry.name)) : entry.name.endsWith('.ts') ? [join(dir, entry.name)] : [],
      );
    const writers = ['lib', 'runtime', 'operator', 'node-agent', 'cli']
      .flatMap(files)
      .filter((file) => file !== join('lib', 'conditions.ts'))
      .filter((file) => /lastTransitionTime\s*:/.test(readFileSync(join(root, file), 'utf8')));
    expect(writers).toEqual([]);
  });
});

describe('setHealth', () => {
  const own = setCondition(undefined, { type: 'Applied', status: 'False', reason: 'Progressing', message: '1 of 2' }, at(t0));

  it('sets exactly one of Ready, Reconciling and Stalled True, with the generation, beside the resource’s own conditions', () => {
    const list = setHealth(own, { state: 'Reconciling', reason: 'RollingOut', message: '1 node pending' }, 4, at(t0));
    expect(list.map((c) => [c.type, c.status])).toEqual([
      ['Applied', 'False'],
      ['Ready', 'False'],
      ['Reconciling', 'True'],
      ['Stalled', 'False'],
    ]);
    for (const c of list.slice(1)) expect(c).toMatchObject({ reason: 'RollingOut', message: '1 node pending', observedGeneration: 4 });
    expect(list.every((c) => conditionSchema.safeParse(c).success)).toBe(true);
  });

  it('moves lastTransitionTime only on the conditions that flip', () => {
    const rolling = setHealth(own, { state: 'Reconciling', reason: 'RollingOut', message: 'x' }, 1, at(t0));
    const stalled = setHealth(rolling, { state: 'Stalled', reason: 'NodesFailed', message: 'y' }, 1, at(t1));
    expect(findCondition(stalled, 'Ready')?.lastTransitionTime).toBe('2025-03-01T10:00:00Z');
    expect(findCondition(stalled, 'Reconciling')).toMatchObject({ status: 'False', lastTransitionTime: '2025-03-01T10:05:00Z' });
    expect(findCondition(stalled, 'Stalled')).toMatchObject({ status: 'True', lastTransitionTime: '2025-03-01T10:05:00Z' });
  });
});
