import { recognizeRelease } from './families.js';

/** Who built the kernel, as told by the shape of its release string (and the OS image, where the string alone cannot). */
export const kernelFamilies = [
  'debian',
  'ubuntu',
  'rhel',
  'oracle-uek',
  'amazon',
  'cos',
  'bottlerocket',
  'flatcar',
  'talos',
  'suse',
  'fedora',
  'azure-linux',
  'mainline',
  'other',
] as const;
export type KernelFamily = (typeof kernelFamilies)[number];

/** The upstream version a kernel is based on. */
export interface UpstreamVersion {
  major: number;
  minor: number;
  /**
   * The upstream patch level, or undefined where the distribution freezes it in the release string
   * for the life of a release (Debian's 6.1.0-18 is upstream 6.1.76, RHEL 9 is "5.14.0" forever).
   */
  patch?: number;
  /** A release candidate: 6.8.0-rc3 comes before 6.8.0. */
  rc?: number;
}

/**
 * A kernel release string, read. Releases are ordered by their distribution's own numbers only
 * within one `line`; across lines only the upstream version orders them (see compare.ts).
 */
export interface KernelRelease {
  /** As given (trimmed). */
  text: string;
  family: KernelFamily;
  /**
   * The series whose builds the distribution numbers in one sequence: "debian", "ubuntu" (generic,
   * lowlatency and HWE), "ubuntu-aws", "el9", "amzn2023", "cos", ... Only releases of one line are
   * ordered by `build`.
   */
  line: string;
  /** The x.y.z printed at the start of the release, missing parts 0. */
  base: [number, number, number];
  upstream: UpstreamVersion;
  /** The distribution's own numbers after the upstream version, compared in order: Debian's ABI [18], RHEL's [362, 8, 1]. */
  build: number[];
  /** The kernel configuration the distribution names (amd64, cloud-amd64, generic, aws, default, 64k). */
  flavour?: string;
  /** The machine architecture where the release names it (x86_64, aarch64). */
  arch?: string;
  /** The family in words, for statements: "Debian", "Ubuntu (aws)", "RHEL 9 and rebuilds". */
  label: string;
}

/** What the node says about its operating system, to tell apart kernels whose release strings look alike. */
export interface OsHint {
  /** Node.status.nodeInfo.osImage or os-release PRETTY_NAME: "Container-Optimized OS from Google", "Bottlerocket OS 1.19.2 (aws-k8s-1.29)". */
  osImage?: string;
  /** os-release BUILD_ID: Container-Optimized OS numbers its builds there (17800.66.78). */
  buildId?: string;
}

/**
 * Reads a kernel release (`uname -r`, Node.status.nodeInfo.kernelVersion) of any of the families
 * above. Returns undefined when the text does not start with a version number.
 */
export function parseKernelRelease(text: string, os: OsHint = {}): KernelRelease | undefined {
  return recognizeRelease(text.trim(), os);
}

/** The upstream version in words: "6.1.76", "6.1.x" when the distribution does not tell the patch level, "6.8.0-rc3". */
export function upstreamText(upstream: UpstreamVersion): string {
  const patch = upstream.patch === undefined ? 'x' : String(upstream.patch);
  return `${upstream.major}.${upstream.minor}.${patch}${upstream.rc !== undefined ? `-rc${upstream.rc}` : ''}`;
}
