import type { KernelCaptureSpec, KernelCaptureStatus } from '../../api/v1alpha1/capture.js';
import type { Finding } from '../../api/v1alpha1/finding.js';
import { nodeFigures, type NodeFigures } from '../../lib/figures.js';
import type { KubeObject } from '../../lib/kube/client.js';
import { projectMetadata, type ProjectedMetadata } from '../../runtime/projection.js';
import { limits } from './limits.js';

/**
 * A KernelCapture as the operator caches it: owner, investigation, node, phase, kernel version,
 * conditions, the findings, each with only the evidence the parent can show, and the node's
 * figures read from its results' summaries (lib/figures.ts). Results, summaries, artifacts and the copied capture spec stay in the API server. The type says what is
 * kept, so the compiler refuses code that reads a dropped field: add a field here before reading it.
 */
export interface CachedCapture extends KubeObject {
  metadata: ProjectedMetadata<'ownerReferences'>;
  spec: Pick<KernelCaptureSpec, 'investigation' | 'nodeName' | 'baseline'>;
  status?: Pick<KernelCaptureStatus, 'phase' | 'kernelVersion' | 'findingCount' | 'findings' | 'conditions'>;
  /** The comparison's figures of this node; absent when its results give none. */
  figures?: NodeFigures;
}

/** The most evidence of one finding that the parent can show: the first lines, each cut at the line limit. */
function trimmed(finding: Finding): Finding {
  const evidence = finding.evidence
    .slice(0, limits.evidenceFromFirstNode)
    .map((line) => (line.length > limits.evidenceChars ? line.slice(0, limits.evidenceChars) : line));
  return { ...finding, evidence };
}

/** The informer transform for KernelCaptures. */
export function cachedCapture(object: KubeObject): CachedCapture {
  const capture = object as KubeObject & { spec: KernelCaptureSpec; status?: KernelCaptureStatus };
  const status = capture.status;
  const figures = status?.results ? nodeFigures(status.results) : {};
  return {
    apiVersion: capture.apiVersion,
    kind: 'KernelCapture',
    metadata: projectMetadata(capture.metadata, ['ownerReferences']),
    spec: {
      investigation: capture.spec.investigation,
      nodeName: capture.spec.nodeName,
      ...(capture.spec.baseline ? { baseline: true } : {}),
    },
    ...(status
      ? {
          status: {
            ...(status.phase !== undefined ? { phase: status.phase } : {}),
            ...(status.kernelVersion !== undefined ? { kernelVersion: status.kernelVersion } : {}),
            ...(status.findingCount !== undefined ? { findingCount: status.findingCount } : {}),
            ...(status.findings !== undefined ? { findings: status.findings.map(trimmed) } : {}),
            ...(status.conditions !== undefined ? { conditions: status.conditions } : {}),
          },
        }
      : {}),
    ...(Object.keys(figures).length > 0 ? { figures } : {}),
  };
}
