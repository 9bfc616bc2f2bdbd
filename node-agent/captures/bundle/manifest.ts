/** One file of the bundle: where it came from, how big it is, and what went wrong. */
export interface ManifestEntry {
  file: string;
  /** The command line or path it came from. */
  source: string;
  sizeBytes: number;
  /** Cut at the size cap. */
  truncated: boolean;
  /** Why the item is missing or incomplete; the bundle is made without it. */
  error?: string;
  exitCode?: number;
  durationMs: number;
}

export interface Manifest {
  createdAt: string;
  hostname: string;
  kernelRelease: string;
  ksleuthVersion: string;
  /** What was replaced with placeholders before the bundle left the node. */
  redacted?: string[];
  /** Limits every item was collected under. */
  limits: { timeoutSeconds: number; maxBytes: number };
  files: ManifestEntry[];
}
