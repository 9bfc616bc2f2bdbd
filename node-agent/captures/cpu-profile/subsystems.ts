/**
 * Kernel subsystems by function name. The first rule whose pattern matches a function wins, so
 * specific rules come before broad ones. A leaf function no rule knows takes the subsystem of
 * its nearest caller that a rule with `callersCount` knows (generic helpers such as read_zero
 * or memset count for the code that called them); entry code, interrupt glue and user copies
 * only count when they are the leaf, or every syscall would be "syscalls".
 */
export interface SubsystemRule {
  id: string;
  label: string;
  pattern: RegExp;
  callersCount: boolean;
  /** What to look at when this subsystem is hot. */
  advice: string;
}

export const subsystemRules: SubsystemRule[] = [
  {
    id: 'locking',
    label: 'locking',
    pattern:
      /^(native_queued_spin_lock_slowpath|__pv_queued_spin_lock_slowpath|pv_queued_spin|queued_(spin|read|write)_lock|_?raw_(spin|read|write)_|do_raw_spin|osq_lock|mutex_|__mutex_|rwsem_|__rwsem|down_(read|write)|up_(read|write)|rt_mutex|rt_spin|__down|lock_acquire|lock_release|percpu_down|percpu_up|ww_mutex|__lock_sock|lock_sock|release_sock)/,
    callersCount: false,
    advice: 'Lock contention: find the caller of the lock in the flame graph (the frame under the spin/mutex function) and the processes contending for it',
  },
  {
    id: 'rcu',
    label: 'RCU',
    pattern: /^(rcu_|__rcu_|call_rcu|kfree_rcu|kvfree_rcu|kvfree_call_rcu|synchronize_rcu|synchronize_srcu|srcu_|__srcu_|__call_rcu|rcu$|rcu_do_batch)/,
    callersCount: true,
    advice:
      'RCU callback or grace-period work: bursts of object freeing (mass file deletion, network namespace or device teardown, route flushes) pile up callbacks; check rcu_nocbs/rcutree tunables and what frees objects',
  },
  {
    id: 'timers',
    label: 'timers',
    pattern:
      /^(hrtimer_|__hrtimer|tick_|__tick|timer_|__timer|run_timer|__run_timer|call_timer_fn|clockevents_|lapic_next|ktime_get|read_tsc|native_sched_clock|sched_clock|timekeeping_|update_wall_time|update_process_times|posix_timer|do_nanosleep|hrtimer)/,
    callersCount: true,
    advice: 'Timer work: many timers or high-resolution timer interrupts; check timer-heavy processes',
  },
  {
    id: 'scheduler',
    label: 'scheduler',
    pattern:
      /^(__?schedule|schedule_|pick_next_|enqueue_|dequeue_|update_curr|update_load_|update_cfs|update_rq|update_sd_|load_balance|newidle_balance|sched_|__sched|_?try_to_wake_up|ttwu_|wake_up_|__wake_up|finish_task_switch|__switch_to|context_switch|psi_|set_next_entity|put_prev_|check_preempt|task_tick|scheduler_tick|sched_tick|select_task_rq|migrate_task|activate_task|deactivate_task|resched_|yield_task|do_sched_yield|cpuacct_|account_)/,
    callersCount: true,
    advice: 'Scheduler overhead: many short runs, wake-ups or migrations; check context-switch rates and CPU affinity',
  },
  {
    id: 'memory',
    label: 'memory management',
    pattern:
      /^(__alloc_pages|alloc_pages|__alloc_frozen|alloc_frozen|get_page_from_freelist|rmqueue|__rmqueue|free_pages|__free_pages|free_unref|free_pcppages|free_one_page|__free_one_page|kmem_cache_|kmalloc|__kmalloc|kfree|kvfree|kvmalloc|slab_|__slab|___slab|new_slab|page_|__page_|folio|__folio|filemap_map|handle_mm_fault|__handle_mm_fault|do_anonymous_page|do_fault|do_wp_page|wp_page|do_page_fault|exc_page_fault|clear_page|copy_page|zap_|unmap_|do_munmap|mmap_|__mmap|vm_|vma_|__vma|mm_|__mm|compact_|__compact|isolate_|migrate_|shrink_|lru_|__lru|try_to_free|try_to_unmap|reclaim|__reclaim|vmalloc|__vmalloc|vfree|memcg|mem_cgroup|__mem_cgroup|charge_memcg|try_charge|refill_stock|percpu_counter|pcpu_|balance_pgdat|kswapd|khugepaged|collapse_huge|pte_|pmd_|pud_|tlb_|flush_tlb|native_flush_tlb|release_pages|mark_page|swap_|__swap|add_to_swap|workingset|anon_vma|change_protection|mprotect|set_pte|ptep_|zone_|node_|__zone|lruvec|kcompactd|alloc_pages_mpol|vma_alloc)/,
    callersCount: true,
    advice:
      'Memory management: page allocation, reclaim, compaction or faults; run the memory capture (fragmentation, allocation stalls) and slab capture alongside',
  },
  {
    id: 'filesystem',
    label: 'filesystem (vfs, ext4, jbd2, page cache)',
    pattern:
      /^(vfs_|__vfs|do_sys_open|do_filp_open|path_|link_path|filename_|d_|__d_|dput|dget|iput|__iput|igrab|inode_|__inode|iget|new_inode|evict|generic_file|generic_perform|filemap_|__filemap|file_|__fput|fput|fget|__fget|fdget|do_dentry|lookup_|__lookup|walk_component|ext4_|__ext4|ext4fs|jbd2_|__jbd2|xfs_|btrfs_|nfs_|fuse_|ovl_|shmem_|tmpfs|proc_|seq_|kernfs_|sysfs_|mnt_|__mnt|mount|pipe_|anon_pipe|splice_|iter_file|do_splice|readahead|page_cache|mark_buffer|__mark_inode|block_write|block_read|__block_write|mpage_|writeback|wb_|__writeback|sync_|do_fsync|fsnotify|__fsnotify|dquot|locks_|flock|posix_lock|ksys_(read|write|pread|pwrite|lseek)|do_iter|new_sync|rw_verify|touch_atime|atime_needs)/,
    callersCount: true,
    advice:
      'Filesystem work: find the process and the operation (open/stat/read/write/fsync) in the flame graph; for ext4/jbd2, run the io-latency capture to see journal commit times',
  },
  {
    id: 'block',
    label: 'block I/O',
    pattern:
      /^(blk_|__blk|bio_|__bio|submit_bio|generic_make_request|blkdev_|bdev_|elv_|__elv|dd_|bfq_|kyber_|scsi_|__scsi|sd_|nvme_|virtblk|virtio_queue_rq|ata_|ahci_|dm_|__dm|md_|raid|loop_|lo_rw)/,
    callersCount: true,
    advice: 'Block layer work: run the io-latency capture to see queue and device latency',
  },
  {
    id: 'networking',
    label: 'networking',
    pattern:
      /^(tcp_|__tcp|udp_|__udp|udpv6|ip_|__ip|ipv4_|ipv6_|ip6_|__ip6|inet_|__inet|inet6_|sock_|__sock|sk_|__sk|skb_|__skb|kfree_skb|consume_skb|alloc_skb|__alloc_skb|build_skb|napi_|__napi|net_|__net|netif_|__netif|dev_|__dev_|neigh_|__neigh|nf_|__nf|nft_|ipt_|ip6t_|xt_|ebt_|br_|__br|veth_|virtnet_|virtqueue|e1000|igb_|ixgbe|i40e|mlx[45]|ena_|gve_|tun_|tap_|macvlan|vxlan|geneve|bond_|packet_|tpacket|unix_|__unix|netlink_|__netlink|rtnl_|rtnetlink|sch_|qdisc_|__qdisc|pfifo|fq_|htb_|tc_|tcf_|cls_|fib_|__fib|fib6_|rt6_|ip_route|ip_rcv|dst_|xfrm|sctp_|raw_(v4|v6|sendmsg|recvmsg|rcv|local|send)|icmp|arp_|eth_|gro_|dev_gro|inet_gro|tcp_gro|__sys_(send|recv|sendto|recvfrom|sendmsg|recvmsg|connect|accept|bind|listen)|____sys_(send|recv)|sys_(send|recv)|conntrack|__nf_conntrack|ipt_do_table|nf_hook|bpf_skb|skb|sock)/,
    callersCount: true,
    advice: 'Network stack work: find the path (receive softirq, send, netfilter/conntrack, qdisc) and run the tcp capture for retransmits and backlogs',
  },
  {
    id: 'tracing',
    label: 'tracing (perf, BPF, ftrace)',
    pattern: /^(perf_|__perf|bpf_|__bpf|___bpf|trace_|__trace|ftrace_|__ftrace|ring_buffer|rb_|tracing_|event_|kprobe|uprobe|__uprobe)/,
    callersCount: true,
    advice: 'Tracing overhead: perf, BPF programs or ftrace take CPU; check which tracers run on the node (this capture itself adds a little)',
  },
  {
    id: 'security',
    label: 'security (LSM, audit, seccomp)',
    pattern: /^(security_|selinux_|avc_|apparmor_|aa_|smack_|tomoyo_|bpf_lsm|audit_|__audit|seccomp|__seccomp|cap_|ima_|evm_|landlock)/,
    callersCount: true,
    advice: 'Security hooks: audit rules, seccomp filters or LSM policy checks on a hot path',
  },
  {
    id: 'cgroups',
    label: 'cgroups',
    pattern: /^(cgroup_|__cgroup|css_|cpuset_|blkcg|blkg_|pids_|freezer_)/,
    callersCount: true,
    advice: 'Cgroup accounting: many cgroups or frequent stats reads; check cgroup counts and readers of cgroup files',
  },
  {
    id: 'virtualization',
    label: 'virtualization (KVM)',
    pattern: /^(kvm_|__kvm|vmx_|__vmx|svm_|__svm|vcpu_|vhost_)/,
    callersCount: true,
    advice: 'Hypervisor work (KVM): check the guests running on this node',
  },
  {
    id: 'crypto',
    label: 'crypto',
    pattern: /^(crypto_|__crypto|aes|sha\d|sha_|chacha|poly1305|crc32|crc_t10|ghash|gcm_|xts_|skcipher|aead_|dm_crypt|kcryptd)/,
    callersCount: true,
    advice: 'In-kernel crypto: dm-crypt, IPsec, kTLS or checksums; check whether hardware acceleration is in use',
  },
  {
    id: 'console',
    label: 'console and printk',
    pattern: /^(printk|vprintk|_printk|__printk|console_|serial8250|uart_|tty_|n_tty|pty_|vt_|fbcon|con_write|do_con_write|devkmsg)/,
    callersCount: true,
    advice: 'Kernel logging: a flood of kernel messages written to a slow (serial) console; read the kernel log and lower the console loglevel',
  },
  {
    id: 'process',
    label: 'process lifecycle (fork, exec, exit)',
    pattern:
      /^(copy_process|kernel_clone|_do_fork|do_fork|dup_mm|dup_mmap|copy_page_range|copy_pte|do_exit|do_group_exit|exit_mmap|__mmput|mmput|release_task|exit_|do_execve|__do_execve|bprm_|load_elf|begin_new_exec|exec_|wait4|do_wait|kernel_wait)/,
    callersCount: true,
    advice: 'Process churn: many short-lived processes (fork/exec/exit); find who spawns them',
  },
  {
    id: 'usercopy',
    label: 'copies to and from user space',
    pattern:
      /^(copy_user|_copy_to_user|_copy_from_user|copy_to_user|copy_from_user|__copy_user|raw_copy|rep_movs|clear_user|__clear_user|rep_stos|strncpy_from_user|strnlen_user|copy_to_iter|copy_from_iter|_copy_to_iter|_copy_from_iter|copy_page_to_iter|copy_page_from_iter|memcpy|__memcpy|memmove|__memmove|memset|__memset|memcmp|csum_)/,
    callersCount: false,
    advice: 'Data copies: large reads/writes or many small ones; look at the caller in the flame graph',
  },
  {
    id: 'interrupts',
    label: 'interrupts and softirqs',
    pattern:
      /^(__do_softirq|do_softirq|handle_softirqs|irq_|__irq|handle_irq|__handle_irq|handle_edge_irq|handle_fasteoi|common_interrupt|asm_common_interrupt|sysvec_|asm_sysvec|__sysvec|tasklet|run_ksoftirqd|__raise_softirq|raise_softirq|generic_handle|native_apic|x2apic|__x2apic|smp_call_function|generic_smp_call|flush_smp_call|__flush_smp_call)/,
    callersCount: false,
    advice: 'Interrupt handling: check interrupt rates per CPU (/proc/interrupts) and IRQ affinity',
  },
  {
    id: 'syscalls',
    label: 'system call entry and exit',
    pattern:
      /^(entry_SYSCALL|do_syscall|syscall_|__x64_sys|__ia32_sys|__arm64_sys|x64_sys_call|el0_|exit_to_user_mode|syscall_exit|__syscall|int80|entry_INT80|srso_|retbleed|__x86_return_thunk|entry_)/,
    callersCount: false,
    advice: 'System call overhead: very many cheap system calls; find the process making them (mitigations such as retbleed/SRSO make each call dearer)',
  },
];

/** The label of a subsystem id ("other" for functions no rule knows). */
export function subsystemLabel(id: string): string {
  return subsystemRules.find((r) => r.id === id)?.label ?? 'other kernel code';
}

export function subsystemAdvice(id: string): string | undefined {
  return subsystemRules.find((r) => r.id === id)?.advice;
}

/** The rule for one function name, if any. */
export function ruleFor(functionName: string): SubsystemRule | undefined {
  return subsystemRules.find((rule) => rule.pattern.test(functionName));
}

/**
 * The subsystem a kernel stack's time belongs to: its leaf's, or else its nearest caller's
 * (kernel frames only, leaf first) among rules whose callers count. "other" when none knows.
 */
export function classifyKernelStack(kernelFramesLeafFirst: string[]): string {
  const leaf = kernelFramesLeafFirst[0];
  if (leaf === undefined) return 'other';
  const own = ruleFor(leaf);
  if (own) return own.id;
  for (const caller of kernelFramesLeafFirst.slice(1)) {
    const rule = ruleFor(caller);
    if (rule?.callersCount) return rule.id;
  }
  return 'other';
}
