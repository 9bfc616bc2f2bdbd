import { z } from 'zod';
import { withCel } from '../cel.js';

export const group = 'ksleuth.io';
export const version = 'v1alpha1';
export const apiVersion = `${group}/${version}`;

/** A Kubernetes object name (DNS subdomain). */
export const objectName = z
  .string()
  .min(1)
  .max(253)
  .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/);

export const labelKey = z
  .string()
  .min(1)
  .max(317)
  .regex(/^([a-z0-9]([-a-z0-9.]*[a-z0-9])?\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/);

export const labelValue = z
  .string()
  .max(63)
  .regex(/^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/);

const valuesOperators = ['In', 'NotIn'];

export const labelSelectorRequirement = withCel(
  z.object({
    key: labelKey.describe('The label key that the selector applies to.'),
    operator: z.enum(['In', 'NotIn', 'Exists', 'DoesNotExist']).describe("How the key relates to the values: 'In', 'NotIn', 'Exists' or 'DoesNotExist'."),
    values: z.array(labelValue).max(64).optional().describe("The values for 'In' and 'NotIn'; must be empty for 'Exists' and 'DoesNotExist'."),
  }),
  [
    {
      cel: "self.operator in ['In', 'NotIn'] ? (has(self.values) && size(self.values) > 0) : (!has(self.values) || size(self.values) == 0)",
      message: "values must be non-empty for 'In' and 'NotIn' and empty for 'Exists' and 'DoesNotExist'",
      holds: (r) => (valuesOperators.includes(r.operator) ? (r.values?.length ?? 0) > 0 : (r.values?.length ?? 0) === 0),
    },
  ],
);

export const labelSelector = z
  .object({
    matchLabels: z.record(labelKey, labelValue).optional().describe('Labels that a node must carry with exactly these values.'),
    matchExpressions: z.array(labelSelectorRequirement).max(16).optional().describe('Label requirements that a node must meet; all must hold.'),
  })
  .describe('A standard Kubernetes label selector over Node labels.');
export type LabelSelector = z.infer<typeof labelSelector>;

export const conditionStatus = z.enum(['True', 'False', 'Unknown']);

/** The metav1.Condition shape, per the Kubernetes API conventions. */
export const condition = z.object({
  type: z
    .string()
    .min(1)
    .max(316)
    .regex(/^[A-Z][A-Za-z0-9]*$/)
    .describe('The condition type, in PascalCase (for example Complete or Applied).'),
  status: conditionStatus.describe("Whether the condition holds: 'True', 'False' or 'Unknown'."),
  observedGeneration: z.int().min(0).optional().describe('The metadata.generation of the object that this condition was computed from.'),
  lastTransitionTime: z.iso.datetime().describe('When the status of this condition last changed.'),
  reason: z
    .string()
    .min(1)
    .max(1024)
    .regex(/^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$/)
    .describe('A CamelCase, machine-readable reason for the last transition.'),
  message: z.string().max(32768).describe('A human-readable explanation of the last transition.'),
});
export type Condition = z.infer<typeof condition>;

export const conditions = z
  .array(condition)
  .max(16)
  .optional()
  .meta({ 'x-kubernetes-list-type': 'map', 'x-kubernetes-list-map-keys': ['type'] })
  .describe('The latest observations of the object, one per condition type.');

/** A sysctl name in dotted form, as `sysctl` prints it (net.ipv4.tcp_fastopen). */
export const sysctlName = z
  .string()
  .min(3)
  .max(253)
  .regex(/^[a-z][a-z0-9_]*(\.[a-zA-Z0-9_/-]+)+$/)
  .describe(
    'The sysctl name in dotted form, for example net.ipv4.tcp_fastopen; a "/" stands for a dot inside one component (net.ipv4.conf.eth0/1.rp_filter is interface eth0.1).',
  );

/** Words separated by single spaces, no blanks around; a number that starts with 0 and goes on. */
const singleSpaced = '^[^ ]+( [^ ]+)*$';
const leadingZero = '(^| )-?0[0-9]';
const canonicalSysctlValueMessage =
  'write the value as the kernel prints it: numbers without leading zeros ("10", not "010"), separated by single spaces, no blanks around';

/**
 * A sysctl value as written to /proc/sys: printable ASCII, several numbers separated by single
 * spaces. Only the canonical spelling is accepted, the one the agent writes and reads back: "010"
 * and "10" would otherwise be one value with two names (a false conflict, a node that never
 * reports the value it was asked for). Refused rather than rewritten at admission, so that what
 * Git holds and what the cluster holds stay the same.
 */
export const sysctlValue = withCel(
  z
    .string()
    .min(1)
    .max(256)
    .regex(/^[ -~]+$/),
  [
    {
      cel: `self.matches('${singleSpaced}') && !self.matches('${leadingZero}')`,
      message: canonicalSysctlValueMessage,
      holds: (value) => new RegExp(singleSpaced).test(value) && !new RegExp(leadingZero).test(value),
    },
  ],
).describe('The value to write, as sysctl prints it (for example "0" or "4096 87380 6291456").');

export const sysctlSetting = z.object({
  name: sysctlName,
  value: sysctlValue,
});
export type SysctlSetting = z.infer<typeof sysctlSetting>;
