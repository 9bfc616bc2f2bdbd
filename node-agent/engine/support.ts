import { captureKindIds, captureKinds } from '../../api/v1alpha1/captures.js';
import type { KernelNodeStatus } from '../../api/v1alpha1/node.js';
import type { NodeFacts } from './probe.js';
import type { CaptureModules } from './capture.js';
import { unmetRequirement } from './requirements.js';

/** Which capture kinds this node can run with their default parameters, and why not. */
export function captureSupport(facts: NodeFacts, modules: CaptureModules): NonNullable<KernelNodeStatus['captures']> {
  return captureKindIds.map((kind) => {
    const module = modules[kind];
    if (!module) return { kind, supported: false, reason: `this agent has no ${kind} capture` };
    const defaults = captureKinds[kind].params.safeParse(
      kind === 'bpftrace' ? { program: 'BEGIN {}' } : kind === 'ftrace' ? { events: ['sched:sched_switch'] } : {},
    );
    const unmet = unmetRequirement(module.requirements(defaults.success ? (defaults.data as never) : ({} as never)), facts);
    return unmet ? { kind, supported: false, reason: unmet.message.slice(0, 512) } : { kind, supported: true };
  });
}
