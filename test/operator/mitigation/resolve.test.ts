import { describe, expect, it } from 'vitest';
import { mitigationSpec } from '../../../api/v1alpha1/mitigation.js';
import type { DesiredSysctl, SysctlStatus } from '../../../api/v1alpha1/node.js';
import { parseKernelRange } from '../../../lib/kernel/range.js';
import { resolveMitigations, type MitigationInput, type NodeInput } from '../../../operator/mitigation/resolve.js';

function mit(name: string, spec: Record<string, unknown>, extra: Partial<MitigationInput> = {}): MitigationInput {
  const parsed = mitigationSpec.parse(spec);
  return { name, spec: parsed, deleting: false, ...(parsed.kernelVersions ? { kernelRange: parseKernelRange(parsed.kernelVersions) } : {}), ...extra };
}

function node(
  name: string,
  labels: Record<string, string> = {},
  kernelVersion = '6.1.10',
  current: DesiredSysctl[] = [],
  status: SysctlStatus[] = [],
): NodeInput {
  return { name, labels, kernelVersion, registered: true, current, status };
}

const fastopenOff = { sysctls: [{ name: 'net.ipv4.tcp_fastopen', value: '0' }] };

function values(desired: Map<string, DesiredSysctl[]>): Record<string, string> {
  return Object.fromEntries(
    [...desired].map(([n, d]) => [n, d.map((s) => `${s.name}=${s.value}${s.dryRun ? ' (dry run)' : ''} by ${s.mitigation}`).join(', ')]),
  );
}

describe('resolveMitigations', () => {
  it('applies to the selected nodes only, and skips kernels outside the range', () => {
    const nodes = [node('a', { pool: 'ingress' }), node('b', { pool: 'ingress' }, '6.1.60'), node('c', { pool: 'db' })];
    const { desired, views } = resolveMitigations(
      [mit('tfo', { ...fastopenOff, nodeSelector: { matchLabels: { pool: 'ingress' } }, kernelVersions: '>=6.1.0 <6.1.50' })],
      nodes,
    );
    expect(values(desired)).toEqual({ a: 'net.ipv4.tcp_fastopen=0 by tfo', b: '', c: '' });
    const view = views.get('tfo')!;
    expect(view.matched).toEqual(['a', 'b']);
    expect(view.skippedKernel).toEqual(['b']);
    expect(view.eligible).toEqual(['a']);
  });

  it('orders Debian kernels by their ABI and skips, with the reason, kernels the range cannot place', () => {
    const nodes = [
      node('old', {}, '6.1.0-13-amd64'),
      node('hit', {}, '6.1.0-20-cloud-amd64'),
      node('fixed', {}, '6.1.0-28-amd64'),
      node('amzn', {}, '6.1.79-99.164.amzn2023.x86_64'),
    ];
    const { desired, views } = resolveMitigations([mit('abi', { ...fastopenOff, kernelVersions: '>=6.1.0-18 <6.1.0-28' })], nodes);
    expect(values(desired)).toEqual({ old: '', hit: 'net.ipv4.tcp_fastopen=0 by abi', fixed: '', amzn: '' });
    const view = views.get('abi')!;
    expect(view.skippedKernel).toEqual(['amzn', 'fixed', 'old']);
    expect(view.undecidedKernel).toEqual([
      { node: 'amzn', kernel: '6.1.79-99.164.amzn2023.x86_64', reason: expect.stringMatching(/is not a Debian or Ubuntu kernel, and both are builds of 6\.1/) },
    ]);
  });

  it('lets the higher priority win and reports the other as overridden', () => {
    const { desired, views } = resolveMitigations(
      [
        mit('low', { sysctls: [{ name: 'vm.swappiness', value: '10' }], priority: 1 }),
        mit('high', { sysctls: [{ name: 'vm.swappiness', value: '1' }], priority: 5 }),
      ],
      [node('a')],
    );
    expect(values(desired)).toEqual({ a: 'vm.swappiness=1 by high' });
    expect([...views.get('low')!.overridden]).toEqual(['a']);
    expect(views.get('high')!.conflicts.size).toBe(0);
  });

  it('reports equal priorities with different values as a conflict on both, and applies neither', () => {
    const { desired, views } = resolveMitigations(
      [mit('one', { sysctls: [{ name: 'vm.swappiness', value: '10' }] }), mit('two', { sysctls: [{ name: 'vm.swappiness', value: '20' }] })],
      [node('a'), node('b')],
    );
    expect(values(desired)).toEqual({ a: '', b: '' });
    expect([...views.get('one')!.conflicts.values()]).toEqual([{ sysctl: 'vm.swappiness', mitigation: 'two', value: '10', otherValue: '20', nodes: 2 }]);
    expect([...views.get('two')!.conflicts.values()]).toEqual([{ sysctl: 'vm.swappiness', mitigation: 'one', value: '20', otherValue: '10', nodes: 2 }]);
  });

  it('keeps the value already in force when a conflict arises (no flapping)', () => {
    const current: DesiredSysctl[] = [{ name: 'vm.swappiness', value: '20', mitigation: 'two', revertPolicy: 'Restore', dryRun: false }];
    const input = [mit('one', { sysctls: [{ name: 'vm.swappiness', value: '10' }] }), mit('two', { sysctls: [{ name: 'vm.swappiness', value: '20' }] })];
    const first = resolveMitigations(input, [node('a', {}, '6.1.0', current)]);
    expect(values(first.desired)).toEqual({ a: 'vm.swappiness=20 by two' });
    // Resolving again from the result gives the same answer.
    const second = resolveMitigations(input, [node('a', {}, '6.1.0', first.desired.get('a')!)]);
    expect(second.desired.get('a')).toEqual(first.desired.get('a'));
    expect(second.views.get('one')!.conflicted.has('a')).toBe(true);
  });

  it('does not call equal values a conflict', () => {
    const { desired, views } = resolveMitigations([mit('one', fastopenOff), mit('two', fastopenOff)], [node('a')]);
    expect(values(desired)).toEqual({ a: 'net.ipv4.tcp_fastopen=0 by one' });
    expect(views.get('two')!.conflicts.size).toBe(0);
  });

  it('reverts everywhere while a mitigation is being deleted, and applies nothing that is refused', () => {
    const current: DesiredSysctl[] = [{ name: 'net.ipv4.tcp_fastopen', value: '0', mitigation: 'tfo', revertPolicy: 'Restore', dryRun: false }];
    expect(values(resolveMitigations([mit('tfo', fastopenOff, { deleting: true })], [node('a', {}, '6.1.0', current)]).desired)).toEqual({ a: '' });
    expect(values(resolveMitigations([mit('bad', fastopenOff, { refused: 'no' })], [node('a')]).desired)).toEqual({ a: '' });
  });

  it('rolls out to at most maxConcurrentNodes nodes at a time', () => {
    const spec = { ...fastopenOff, rollout: { maxConcurrentNodes: 2, maxFailedNodes: 1 } };
    const names = ['a', 'b', 'c', 'd', 'e'];
    const first = resolveMitigations(
      [mit('tfo', spec)],
      names.map((n) => node(n)),
    );
    expect(values(first.desired)).toEqual({ a: 'net.ipv4.tcp_fastopen=0 by tfo', b: 'net.ipv4.tcp_fastopen=0 by tfo', c: '', d: '', e: '' });
    // a and b not confirmed yet: nothing more starts.
    const inProgress = names.map((n) => node(n, {}, '6.1.0', first.desired.get(n)!));
    expect(values(resolveMitigations([mit('tfo', spec)], inProgress).desired).c).toBe('');
    // a and b applied: the next two start.
    const applied = (_n: string): SysctlStatus[] => [{ name: 'net.ipv4.tcp_fastopen', mitigation: 'tfo', desired: '0', current: '0', state: 'Applied' }];
    const next = resolveMitigations(
      [mit('tfo', spec)],
      names.map((n) => node(n, {}, '6.1.0', first.desired.get(n)!, first.desired.get(n)!.length ? applied(n) : [])),
    );
    expect(Object.values(values(next.desired)).filter(Boolean)).toHaveLength(4);
  });

  it('halts the rollout when more nodes failed than allowed', () => {
    const spec = { ...fastopenOff, rollout: { maxConcurrentNodes: 5, maxFailedNodes: 1 } };
    const entry: DesiredSysctl[] = [{ name: 'net.ipv4.tcp_fastopen', value: '0', mitigation: 'tfo', revertPolicy: 'Restore', dryRun: false }];
    const failed: SysctlStatus[] = [{ name: 'net.ipv4.tcp_fastopen', mitigation: 'tfo', desired: '0', state: 'Failed', message: 'EPERM' }];
    const result = resolveMitigations([mit('tfo', spec)], [node('a', {}, '6.1.0', entry, failed), node('b', {}, '6.1.0', entry, failed), node('c')]);
    expect(result.views.get('tfo')!.halted).toBe(true);
    expect(values(result.desired).c).toBe('');
  });

  it('previews dry-run sysctls and lets a real mitigation take precedence', () => {
    const { desired } = resolveMitigations(
      [
        mit('preview', {
          sysctls: [
            { name: 'vm.swappiness', value: '5' },
            { name: 'net.ipv4.tcp_keepalive_time', value: '600' },
          ],
          dryRun: true,
        }),
        mit('real', { sysctls: [{ name: 'vm.swappiness', value: '1' }] }),
      ],
      [node('a')],
    );
    expect(values(desired)).toEqual({ a: 'net.ipv4.tcp_keepalive_time=600 (dry run) by preview, vm.swappiness=1 by real' });
  });
});
