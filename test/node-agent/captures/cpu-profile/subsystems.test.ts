import { describe, expect, it } from 'vitest';
import { classifyKernelStack, subsystemRules } from '../../../../node-agent/captures/cpu-profile/subsystems.js';

describe('kernel subsystems by function name', () => {
  const leaf = (name: string): string => classifyKernelStack([name]);

  it.each([
    ['native_queued_spin_lock_slowpath', 'locking'],
    ['_raw_spin_lock_irqsave', 'locking'],
    ['raw_spin_rq_lock_nested', 'locking'],
    ['osq_lock', 'locking'],
    ['rcu_do_batch', 'rcu'],
    ['kvfree_call_rcu', 'rcu'],
    ['hrtimer_interrupt', 'timers'],
    ['finish_task_switch.isra.0', 'scheduler'],
    ['__alloc_pages_slowpath', 'memory'],
    ['clear_page_erms', 'memory'],
    ['compact_zone', 'memory'],
    ['ext4_da_write_begin', 'filesystem'],
    ['jbd2_journal_commit_transaction', 'filesystem'],
    ['vfs_read', 'filesystem'],
    ['blk_mq_submit_bio', 'block'],
    ['nvme_queue_rq', 'block'],
    ['tcp_sendmsg_locked', 'networking'],
    ['nf_conntrack_in', 'networking'],
    ['net_rx_action', 'networking'],
    ['bpf_prog_run', 'tracing'],
    ['selinux_file_permission', 'security'],
    ['kvm_arch_vcpu_ioctl_run', 'virtualization'],
    ['vprintk_emit', 'console'],
    ['copy_process', 'process'],
    ['_copy_to_user', 'usercopy'],
    ['__irq_exit_rcu', 'interrupts'],
    ['do_syscall_64', 'syscalls'],
  ])('%s -> %s', (name, id) => {
    expect(leaf(name)).toBe(id);
  });

  it('gives an unknown leaf the subsystem of its nearest known caller', () => {
    expect(classifyKernelStack(['read_zero', 'vfs_read', 'ksys_read', 'do_syscall_64'])).toBe('filesystem');
    expect(classifyKernelStack(['some_driver_fn', 'tcp_v4_rcv', 'ip_local_deliver'])).toBe('networking');
  });

  it('does not let entry code, interrupt glue or copies claim their callees', () => {
    expect(classifyKernelStack(['some_driver_fn', 'do_syscall_64', 'entry_SYSCALL_64_after_hwframe'])).toBe('other');
    expect(classifyKernelStack(['some_driver_fn', '__do_softirq'])).toBe('other');
    expect(
      subsystemRules
        .filter((r) => !r.callersCount)
        .map((r) => r.id)
        .sort(),
    ).toEqual(['interrupts', 'locking', 'syscalls', 'usercopy']);
  });

  it('has unique ids and advice for each subsystem', () => {
    expect(new Set(subsystemRules.map((r) => r.id)).size).toBe(subsystemRules.length);
    for (const rule of subsystemRules) expect(rule.advice.length).toBeGreaterThan(20);
  });
});
