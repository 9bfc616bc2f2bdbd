import type { KernelMitigation } from '../api/v1alpha1/resources.js';
import { formatDuration } from '../lib/duration.js';
import { table } from './table.js';

/**
 * KernelMitigations as `ksleuth get mitigations` lists them: the same story as `kubectl get kmit`,
 * nodes applied and pods holding the per-namespace sysctls; wide adds the sysctls and the first
 * pod that does not hold them, with why.
 */
export function mitigationTable(items: KernelMitigation[], wide: boolean, now = Date.now()): string {
  const headers = ['name', 'applied', 'pods', 'matched', 'failed', 'ready', 'age', ...(wide ? ['sysctls', 'pod exception'] : [])];
  return table(
    headers,
    items.map((m) => {
      const created = m.metadata.creationTimestamp;
      const exception = m.status?.pods?.examples?.[0];
      return [
        m.metadata.name,
        m.status?.progress ?? '',
        m.status?.podCoverage ?? '',
        m.status?.nodes?.matched ?? '',
        m.status?.nodes?.failed ?? '',
        m.status?.conditions?.find((c) => c.type === 'Ready')?.status ?? '',
        created ? formatDuration((now - Date.parse(String(created))) / 1000) : '',
        ...(wide
          ? [m.spec.sysctls.map((s) => `${s.name}=${s.value}`).join(','), exception ? `${exception.pod} on ${exception.node}: ${exception.reason}` : '']
          : []),
      ];
    }),
  );
}
