import { z } from 'zod';
import { sysctlName } from '../../api/v1alpha1/common.js';

/** netns: each network namespace has its own value. global: one value for the whole kernel. */
export const sysctlScopes = ['netns', 'global'] as const;
export type SysctlScope = (typeof sysctlScopes)[number];

const why = z
  .string()
  .min(10)
  .max(300)
  .regex(/^[^\n]+$/, 'must be one line')
  .describe('One line: which kernel bug this sysctl can hold off.');

const bound = z.int().describe('An inclusive bound.');

const common = {
  name: sysctlName,
  scope: z.enum(sysctlScopes),
  why,
};

export const integerEntry = z.strictObject({
  ...common,
  type: z.literal('integer'),
  min: bound,
  max: bound,
});

export const tupleField = z.strictObject({
  name: z.string().regex(/^[a-z][a-z0-9_]*$/, 'must be a lower-case identifier such as min or default'),
  min: bound,
  max: bound,
});

export const tupleEntry = z.strictObject({
  ...common,
  type: z.literal('tuple'),
  fields: z.array(tupleField).min(2).max(8),
  ascending: z.boolean().default(false).describe('Each field must be at least the one before it (tcp_rmem: min <= default <= max).'),
});

export const enumEntry = z.strictObject({
  ...common,
  type: z.literal('enum'),
  values: z
    .array(z.string().regex(/^[!-~]+$/, 'must be one word of printable ASCII'))
    .min(1)
    .max(64),
});

export const allowListEntry = z.discriminatedUnion('type', [integerEntry, tupleEntry, enumEntry]);
export type AllowListEntry = z.infer<typeof allowListEntry>;
export type IntegerEntry = z.infer<typeof integerEntry>;
export type TupleEntry = z.infer<typeof tupleEntry>;
export type EnumEntry = z.infer<typeof enumEntry>;

export const deniedPattern = z.strictObject({
  pattern: z
    .string()
    .min(1)
    .max(253)
    .regex(/^[a-z0-9_.*/-]+$/, 'must be a sysctl name where * matches any characters, such as kernel.panic*'),
  why,
});
export type DeniedPattern = z.infer<typeof deniedPattern>;

/** One allow-list file: the shipped config/sysctl-allowlist.yaml, or an extra file from the chart. */
export const allowListFile = z.strictObject({
  sysctls: z.array(allowListEntry).max(1024).default([]),
  denied: z.array(deniedPattern).max(1024).default([]),
});
export type AllowListFile = z.infer<typeof allowListFile>;
