/**
 * The artifacts API: an aggregated API served by the operator (APIService
 * v1alpha1.artifacts.ksleuth.io). Users reach a node's artifacts through the API server, which
 * authenticates and authorizes them with ordinary RBAC on this resource; the operator then
 * fetches from the node's agent with its own identity, so user credentials never leave the
 * control plane.
 *
 *   GET /apis/artifacts.ksleuth.io/v1alpha1/captureartifacts                     every capture with artifacts
 *   GET /apis/artifacts.ksleuth.io/v1alpha1/captureartifacts/CAPTURE             one capture's files (sizes, sha256)
 *   GET /apis/artifacts.ksleuth.io/v1alpha1/captureartifacts/CAPTURE/files/FILE  the file itself
 *
 * RBAC: `get`/`list` on `captureartifacts` and `get` on `captureartifacts/files` (the chart's
 * <release>-artifact-reader ClusterRole).
 */
export const artifactsGroup = 'artifacts.ksleuth.io';
export const artifactsVersion = 'v1alpha1';
export const artifactsGroupVersion = `${artifactsGroup}/${artifactsVersion}`;
export const captureArtifactsResource = 'captureartifacts';
export const captureArtifactsKind = 'CaptureArtifacts';
export const filesSubresource = 'files';

const base = `/apis/${artifactsGroupVersion}/${captureArtifactsResource}`;

export function captureArtifactsPath(capture?: string): string {
  return capture === undefined ? base : `${base}/${encodeURIComponent(capture)}`;
}

export function artifactFilePath(capture: string, file: string): string {
  return `${base}/${encodeURIComponent(capture)}/${filesSubresource}/${encodeURIComponent(file)}`;
}

/**
 * The audience of the tokens the operator sends to the agent of `node`. Each agent accepts only
 * its own node's audience, so a token seen by one node is worth nothing on another.
 */
export function agentAudience(node: string): string {
  return `ksleuth.io/agent/${node}`;
}
