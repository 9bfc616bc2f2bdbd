import type { SysctlSetting } from '../../api/v1alpha1/common.js';
import { mitigationSpec } from '../../api/v1alpha1/mitigation.js';
import type { KernelMitigation } from '../../api/v1alpha1/resources.js';
import { KernelRangeError, parseKernelRange } from '../../lib/kernel/range.js';
import { type AllowList, checkSysctl } from '../../lib/sysctl/index.js';
import type { MitigationInput } from './resolve.js';

/**
 * A KernelMitigation as the resolution sees it: its spec validated, its kernel range parsed and
 * every sysctl checked against the allow-list, values in their canonical form; a spec that fails
 * any is refused with the reasons, field by field.
 */
export function mitigationInput(m: KernelMitigation, allowList: AllowList): MitigationInput {
  const name = m.metadata.name!;
  const deleting = Boolean(m.metadata.deletionTimestamp);
  const parsed = mitigationSpec.safeParse(canonicalValues(m.spec, allowList));
  if (!parsed.success) {
    return {
      name,
      spec: m.spec,
      deleting,
      refused: parsed.error.issues.map((i) => `spec.${i.path.join('.')}: ${i.message}`).join('; '),
      refusedReason: 'InvalidSpec',
    };
  }
  // The CRD schema checks the range's syntax; which distribution a bound belongs to is checked here.
  if (parsed.data.kernelVersions !== undefined) {
    try {
      const kernelRange = parseKernelRange(parsed.data.kernelVersions, 'spec.kernelVersions');
      return withSysctlRefusals({ name, spec: parsed.data, deleting, kernelRange }, allowList);
    } catch (error) {
      if (!(error instanceof KernelRangeError)) throw error;
      return { name, spec: parsed.data, deleting, refused: error.message, refusedReason: error.reason };
    }
  }
  return withSysctlRefusals({ name, spec: parsed.data, deleting }, allowList);
}

function withSysctlRefusals(input: MitigationInput, allowList: AllowList): MitigationInput {
  const refusals = input.spec.sysctls.map((s) => checkSysctl(allowList, s.name, s.value)).flatMap((check) => (check.ok ? [] : [check.reason]));
  return refusals.length > 0 ? { ...input, refused: refusals.join('; ') } : input;
}

/**
 * The spec with every allowed sysctl value in the form the agent writes and reports ("010" is
 * 10), so that equal values spelled differently are one value and an agent's report matches what
 * was asked. The API refuses other spellings; this carries objects stored before it did.
 */
function canonicalValues(spec: KernelMitigation['spec'], allowList: AllowList): KernelMitigation['spec'] {
  if (!Array.isArray(spec?.sysctls)) return spec;
  const sysctls = spec.sysctls.map((s: SysctlSetting) => {
    if (typeof s?.name !== 'string' || typeof s.value !== 'string') return s;
    const check = checkSysctl(allowList, s.name, s.value);
    return check.ok ? { ...s, value: check.value } : s;
  });
  return { ...spec, sysctls };
}
