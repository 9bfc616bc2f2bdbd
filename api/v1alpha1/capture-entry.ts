import { z } from 'zod';
import { withCel } from '../cel.js';
import { captureKinds, captureKindIds, type CaptureKind, type CaptureParams } from './captures.js';

const fields = captureKindIds.map((kind) => captureKinds[kind].field);

const exactlyOneKind = `[${fields.map((f) => `has(self.${f})`).join(', ')}].filter(x, x).size() == 1`;

const kindFields = Object.fromEntries(captureKindIds.map((kind) => [captureKinds[kind].field, captureKinds[kind].params.optional()])) as {
  [K in CaptureKind as (typeof captureKinds)[K]['field']]: z.ZodOptional<(typeof captureKinds)[K]['params']>;
};

/** One capture in an investigation: a name and exactly one capture kind with its parameters. */
export const captureEntry = withCel(
  z
    .object({
      name: z
        .string()
        .min(1)
        .max(63)
        .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
        .optional()
        .describe('Identifies this capture in results and artifacts; defaults to the capture kind.'),
      ...kindFields,
    })
    .meta({ description: `One capture. Set exactly one of: ${fields.join(', ')}.` }),
  [
    {
      cel: exactlyOneKind,
      message: `each capture entry must set exactly one capture kind: ${fields.join(', ')}`,
      holds: (entry) => fields.filter((f) => (entry as Record<string, unknown>)[f] !== undefined).length === 1,
    },
  ],
);
/** A capture entry as a user writes it (defaults not yet applied). */
export type CaptureEntry = z.input<typeof captureEntry>;

/** A capture entry resolved to its kind, name and parameters (with defaults applied). */
export interface ResolvedCapture<K extends CaptureKind = CaptureKind> {
  kind: K;
  name: string;
  params: CaptureParams<K>;
}

/** Reads which kind an entry selects. Throws when it selects none or several. */
export function resolveCaptureEntry(entry: CaptureEntry): ResolvedCapture {
  const set = captureKindIds.filter((kind) => (entry as Record<string, unknown>)[captureKinds[kind].field] !== undefined);
  if (set.length !== 1) {
    throw new Error(
      set.length === 0
        ? `capture entry sets no capture kind: set one of ${fields.join(', ')}`
        : `capture entry sets ${set.length} capture kinds (${set.map((k) => captureKinds[k].field).join(', ')}): set exactly one`,
    );
  }
  const kind = set[0]!;
  const params = captureKinds[kind].params.parse((entry as Record<string, unknown>)[captureKinds[kind].field]) as CaptureParams<CaptureKind>;
  return { kind, name: entry.name ?? kind, params };
}

/** Builds the capture entry that selects `kind` with `params` (the inverse of resolveCaptureEntry). */
export function captureEntryFor(kind: CaptureKind, params: Record<string, unknown> = {}, name?: string): CaptureEntry {
  return { ...(name ? { name } : {}), [captureKinds[kind].field]: params } as CaptureEntry;
}
