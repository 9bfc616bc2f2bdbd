import type { Condition } from '../api/v1alpha1/common.js';

export type { Condition };

/** What a reconciler decides about one condition; the time is filled in by {@link setCondition}. */
export interface ConditionInput {
  /** PascalCase, for example `Ready` or `Applied`. */
  type: string;
  status: Condition['status'];
  /** CamelCase, machine-readable, for example `AllNodesApplied`. */
  reason: string;
  message: string;
  /** The `metadata.generation` this condition was computed from. */
  observedGeneration?: number;
}

/** Supplies "now"; tests inject a fixed clock. */
export type Clock = () => Date;

const systemClock: Clock = () => new Date();

/** Kubernetes writes condition times as RFC 3339 with whole seconds (metav1.Time). */
export function formatTime(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, 'Z');
}

/**
 * Returns a new list with `input` set, per the Kubernetes API conventions: one condition per type;
 * `lastTransitionTime` is kept unless the status flips (or the condition is new); reason, message
 * and observedGeneration always take the new values. The input list is not modified.
 */
export function setCondition(conditions: readonly Condition[] | undefined, input: ConditionInput, clock: Clock = systemClock): Condition[] {
  const list = conditions ?? [];
  const existing = findCondition(list, input.type);
  const lastTransitionTime = transitionTime(existing, input.status, clock);
  const next: Condition = {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    lastTransitionTime,
    ...(input.observedGeneration === undefined ? {} : { observedGeneration: input.observedGeneration }),
  };
  if (!existing) return [...list, next];
  return list.map((condition) => (condition.type === input.type ? next : condition));
}

/**
 * A condition of a core/v1 Node (NodeCondition): no observedGeneration, and a lastHeartbeatTime
 * that says when its writer last confirmed it.
 */
export interface NodeCondition {
  type: string;
  status: Condition['status'];
  reason?: string;
  message?: string;
  lastHeartbeatTime?: string;
  lastTransitionTime?: string;
}

/**
 * {@link setCondition} for a Node's conditions: the same transition rule, and lastHeartbeatTime is
 * now. Returns the condition to write (a strategic merge patch merges Node conditions by type).
 */
export function setNodeCondition(
  existing: NodeCondition | undefined,
  input: Omit<ConditionInput, 'observedGeneration'>,
  clock: Clock = systemClock,
): NodeCondition {
  return {
    type: input.type,
    status: input.status,
    reason: input.reason,
    message: input.message,
    lastHeartbeatTime: formatTime(clock()),
    lastTransitionTime: transitionTime(existing, input.status, clock),
  };
}

/** Kept while the status stays (and the existing condition has one), now when it flips or is new. */
function transitionTime(existing: { status: string; lastTransitionTime?: string } | undefined, status: string, clock: Clock): string {
  return existing?.lastTransitionTime !== undefined && existing.status === status ? existing.lastTransitionTime : formatTime(clock());
}

/** Returns a new list without the condition of this type. */
export function removeCondition(conditions: readonly Condition[] | undefined, type: string): Condition[] {
  return (conditions ?? []).filter((condition) => condition.type !== type);
}

export function findCondition(conditions: readonly Condition[] | undefined, type: string): Condition | undefined {
  return conditions?.find((condition) => condition.type === type);
}

export function isConditionTrue(conditions: readonly Condition[] | undefined, type: string): boolean {
  return findCondition(conditions, type)?.status === 'True';
}

/**
 * Whether two condition lists say the same thing, ignoring `lastTransitionTime` and order (the list
 * is a map keyed by type). Use it to decide whether a status write is needed at all.
 */
export function conditionsEqual(a: readonly Condition[] | undefined, b: readonly Condition[] | undefined): boolean {
  const left = a ?? [];
  const right = b ?? [];
  if (left.length !== right.length) return false;
  return left.every((condition) => {
    const other = findCondition(right, condition.type);
    return (
      other !== undefined &&
      other.status === condition.status &&
      other.reason === condition.reason &&
      other.message === condition.message &&
      other.observedGeneration === condition.observedGeneration
    );
  });
}

/**
 * Where an object stands, in the terms kstatus (Flux, kpt, cli-utils) and the chart's Argo CD
 * health check read: `Ready` (done and verified), `Reconciling` (still changing, will get there by
 * itself) or `Stalled` (cannot get there without a change by a person: a failure or an invalid spec).
 */
export interface Health {
  state: 'Ready' | 'Reconciling' | 'Stalled';
  /** CamelCase; all three conditions carry it, so each says why it holds or not. */
  reason: string;
  message: string;
}

export const healthConditionTypes = ['Ready', 'Reconciling', 'Stalled'] as const;

/**
 * Sets `Ready`, `Reconciling` and `Stalled` from one {@link Health}: exactly one of them is True,
 * so a tool that reads any of them sees the same story. Besides a resource's own conditions.
 */
export function setHealth(
  conditions: readonly Condition[] | undefined,
  health: Health,
  observedGeneration: number | undefined,
  clock: Clock = systemClock,
): Condition[] {
  let next = [...(conditions ?? [])];
  for (const type of healthConditionTypes) {
    next = setCondition(
      next,
      { type, status: type === health.state ? 'True' : 'False', reason: health.reason, message: health.message, observedGeneration },
      clock,
    );
  }
  return next;
}
