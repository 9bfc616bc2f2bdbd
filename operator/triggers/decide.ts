import type { KernelTrigger } from '../../api/v1alpha1/resources.js';
import type { KernelTriggerSpec } from '../../api/v1alpha1/trigger.js';
import { severityRank } from '../../lib/findings.js';
import { childName, shortHash } from '../../lib/names.js';
import { matchesSelector } from '../../lib/selector.js';
import type { CachedKernelNode, CachedWatchFinding } from '../nodes/cached.js';
import type { NodeObject } from '../nodes/node.js';

/** An investigation a trigger started, as the operator's cache (or its own memory) has it. */
export interface StartedInvestigation {
  name: string;
  trigger: string;
  node: string;
  createdMs: number;
}

export interface TriggerInputs {
  /** Triggers with a valid spec. */
  triggers: { trigger: KernelTrigger; spec: KernelTriggerSpec }[];
  kernelNodes: CachedKernelNode[];
  nodes: Map<string, NodeObject>;
  started: StartedInvestigation[];
  /** Investigations all triggers together may start per hour. */
  clusterMaxPerHour: number;
  nowMs: number;
}

export interface Start {
  trigger: KernelTrigger;
  spec: KernelTriggerSpec;
  node: string;
  finding: CachedWatchFinding;
  /** Deterministic: one investigation per trigger, node and occurrence of a finding. */
  name: string;
}

export interface Skip {
  trigger: string;
  node: string;
  finding: string;
  reason: 'Cooldown' | 'TriggerCap' | 'ClusterCap';
  /** When it could start (the cooldown or the hour runs out). */
  retryAtMs: number;
}

const hourMs = 3600_000;

/** The investigation a trigger starts for one occurrence of a finding (its id and first time) on a node. */
export function investigationName(trigger: string, node: string, finding: CachedWatchFinding): string {
  return childName([trigger, node, shortHash(`${finding.id}@${finding.firstTime}`)]);
}

/**
 * Which investigations to start now: for every trigger (in name order) and every node whose
 * KernelNode lists a finding the trigger names (at least minSeverity, on a Node its selector
 * matches), one per occurrence of that finding, unless the trigger started one on that node within
 * its cooldown, or the trigger's or the cluster's cap for the last hour is reached. Pure.
 */
export function decideTriggers(inputs: TriggerInputs): { starts: Start[]; skips: Skip[] } {
  const { nowMs } = inputs;
  const started = [...inputs.started];
  const existing = new Set(started.map((s) => s.name));
  const starts: Start[] = [];
  const skips: Skip[] = [];
  const inLastHour = (s: StartedInvestigation): boolean => nowMs - s.createdMs < hourMs;
  const oldestInHour = (list: StartedInvestigation[]): number => Math.min(...list.map((s) => s.createdMs)) + hourMs;
  const kernelNodes = [...inputs.kernelNodes].sort((a, b) => a.metadata.name!.localeCompare(b.metadata.name!));
  for (const { trigger, spec } of [...inputs.triggers].sort((a, b) => a.trigger.metadata.name!.localeCompare(b.trigger.metadata.name!))) {
    if (spec.suspend) continue;
    const name = trigger.metadata.name!;
    for (const kn of kernelNodes) {
      const node = kn.metadata.name!;
      const nodeObject = inputs.nodes.get(node);
      if (!nodeObject || !matchesSelector(spec.nodeSelector, nodeObject.metadata.labels)) continue;
      const findings = (kn.status?.findings ?? []).filter(
        (f) => spec.findings.patterns.includes(f.pattern) && severityRank[f.severity] >= severityRank[spec.findings.minSeverity],
      );
      for (const finding of findings) {
        const investigation = investigationName(name, node, finding);
        if (existing.has(investigation)) continue;
        const onNode = started.filter((s) => s.trigger === name && s.node === node);
        const lastOnNode = Math.max(-Infinity, ...onNode.map((s) => s.createdMs));
        if (nowMs - lastOnNode < spec.cooldownSeconds * 1000) {
          skips.push({ trigger: name, node, finding: finding.id, reason: 'Cooldown', retryAtMs: lastOnNode + spec.cooldownSeconds * 1000 });
          continue;
        }
        const byTrigger = started.filter((s) => s.trigger === name && inLastHour(s));
        if (byTrigger.length >= spec.maxPerHour) {
          skips.push({ trigger: name, node, finding: finding.id, reason: 'TriggerCap', retryAtMs: oldestInHour(byTrigger) });
          continue;
        }
        const all = started.filter(inLastHour);
        if (all.length >= inputs.clusterMaxPerHour) {
          skips.push({ trigger: name, node, finding: finding.id, reason: 'ClusterCap', retryAtMs: oldestInHour(all) });
          continue;
        }
        starts.push({ trigger, spec, node, finding, name: investigation });
        started.push({ name: investigation, trigger: name, node, createdMs: nowMs });
        existing.add(investigation);
      }
    }
  }
  return { starts, skips };
}
