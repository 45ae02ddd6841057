/**
 * hutch's default seccomp profile, and seccompFor(), which picks and compiles
 * the profile of a container.
 *
 * The profile follows docker's default (moby profiles/seccomp) in spirit: an
 * allow-list. What a container needs to run ordinary programs is allowed;
 * calls that reach kernel state no namespace isolates (keyrings, modules,
 * kexec, swap, the clock, accounting), that mostly serve exploits
 * (userfaultfd, io_uring, old ABIs) or that need a capability the container
 * lacks are refused with EPERM. Calls the profile has never heard of, those
 * numbered above every call it names, fail with ENOSYS so that a newer C
 * library takes its fallback path (fchmodat2 → fchmodat, say).
 *
 * Some entries depend on the container's capabilities (its bounding set, see
 * profile.ts): with CAP_SYS_ADMIN the container may mount, unshare and create
 * namespaces; without it clone may not create namespaces and clone3, whose
 * flags a filter cannot read (they sit in memory), fails with ENOSYS so that
 * the C library falls back to clone.
 */
import type { Capabilities } from '../../container/spec.js';
import { compileProfile, loadProfile, type ProfileSyscall, type SeccompProfile } from './profile.js';
import { hostArch, type SeccompArch } from './syscalls.js';

const ENOSYS = 38;

/** CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET (sched.h). */
const CLONE_NAMESPACE_FLAGS = 0x7e020000;

/** AF_VSOCK (socket.h): host–guest sockets, not isolated by a network namespace. */
const AF_VSOCK = 40;

const allow = (names: string[], comment: string, extra: Partial<ProfileSyscall> = {}): ProfileSyscall => ({
  names,
  action: 'SCMP_ACT_ALLOW',
  comment,
  ...extra,
});

const withCap = (cap: string, names: string[], comment: string): ProfileSyscall =>
  allow(names, comment, { includes: { caps: [cap] } });

/** personality(2) personas a program may ask for; anything else could turn off ASLR (ADDR_NO_RANDOMIZE). */
const PERSONAS: [number, string][] = [
  [0x0, 'PER_LINUX'],
  [0x8, 'PER_LINUX32'],
  [0x20000, 'UNAME26'],
  [0x20008, 'UNAME26 | PER_LINUX32'],
  [0xffffffff, 'query the current persona'],
];

export const defaultProfile: SeccompProfile = {
  defaultAction: 'SCMP_ACT_ERRNO',
  defaultErrnoRet: 1, // EPERM
  architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_AARCH64'],
  syscalls: [
    allow(
      [
        'access',
        'faccessat',
        'faccessat2',
        'chdir',
        'fchdir',
        'getcwd',
        'chmod',
        'fchmod',
        'fchmodat',
        'chown',
        'fchown',
        'fchownat',
        'lchown',
        'umask',
        'open',
        'openat',
        'openat2',
        'creat',
        'close',
        'close_range',
        'dup',
        'dup2',
        'dup3',
        'fcntl',
        'flock',
        'read',
        'write',
        'pread64',
        'pwrite64',
        'readv',
        'writev',
        'preadv',
        'pwritev',
        'preadv2',
        'pwritev2',
        'lseek',
        'sendfile',
        'copy_file_range',
        'splice',
        'tee',
        'vmsplice',
        'readahead',
        'fadvise64',
        'fallocate',
        'truncate',
        'ftruncate',
        'fsync',
        'fdatasync',
        'sync',
        'syncfs',
        'sync_file_range',
        'stat',
        'fstat',
        'lstat',
        'newfstatat',
        'statx',
        'statfs',
        'fstatfs',
        'getdents',
        'getdents64',
        'mkdir',
        'mkdirat',
        'mknod',
        'mknodat',
        'rmdir',
        'link',
        'linkat',
        'symlink',
        'symlinkat',
        'readlink',
        'readlinkat',
        'rename',
        'renameat',
        'renameat2',
        'unlink',
        'unlinkat',
        'utime',
        'utimes',
        'utimensat',
        'futimesat',
        'name_to_handle_at',
        'getxattr',
        'lgetxattr',
        'fgetxattr',
        'setxattr',
        'lsetxattr',
        'fsetxattr',
        'listxattr',
        'llistxattr',
        'flistxattr',
        'removexattr',
        'lremovexattr',
        'fremovexattr',
        'inotify_init',
        'inotify_init1',
        'inotify_add_watch',
        'inotify_rm_watch',
        'fanotify_mark',
      ],
      'files, directories, extended attributes, file change notification',
    ),
    allow(
      [
        'poll',
        'ppoll',
        'select',
        'pselect6',
        'epoll_create',
        'epoll_create1',
        'epoll_ctl',
        'epoll_ctl_old',
        'epoll_wait',
        'epoll_wait_old',
        'epoll_pwait',
        'epoll_pwait2',
        'eventfd',
        'eventfd2',
        'signalfd',
        'signalfd4',
        'timerfd_create',
        'timerfd_settime',
        'timerfd_gettime',
        'io_setup',
        'io_destroy',
        'io_submit',
        'io_cancel',
        'io_getevents',
        'io_pgetevents',
        'ioctl',
        'pipe',
        'pipe2',
      ],
      'waiting for file descriptors, event fds, Linux AIO (not io_uring: a frequent source of kernel exploits, refused as docker does since 25.0), ioctl, pipes',
    ),
    allow(
      [
        'brk',
        'mmap',
        'munmap',
        'mremap',
        'mprotect',
        'madvise',
        'mincore',
        'msync',
        'mlock',
        'mlock2',
        'munlock',
        'mlockall',
        'munlockall',
        'remap_file_pages',
        'memfd_create',
        'memfd_secret',
        'membarrier',
        'pkey_alloc',
        'pkey_free',
        'pkey_mprotect',
      ],
      'memory',
    ),
    allow(
      [
        'fork',
        'vfork',
        'execve',
        'execveat',
        'exit',
        'exit_group',
        'wait4',
        'waitid',
        'getpid',
        'getppid',
        'gettid',
        'getpgid',
        'getpgrp',
        'setpgid',
        'getsid',
        'setsid',
        'set_tid_address',
        'set_robust_list',
        'get_robust_list',
        'rseq',
        'futex',
        'futex_waitv',
        'restart_syscall',
        'prctl',
        'capget',
        'capset',
        'seccomp',
        'landlock_create_ruleset',
        'landlock_add_rule',
        'landlock_restrict_self',
        'pidfd_open',
        'pidfd_send_signal',
        'process_mrelease',
        'kill',
        'tkill',
        'tgkill',
        'uname',
        'sysinfo',
        'getcpu',
        'getrandom',
      ],
      'processes and threads (clone is below), self-restriction (prctl, seccomp, landlock), signals to processes',
    ),
    allow(
      [
        'sched_yield',
        'sched_getaffinity',
        'sched_setaffinity',
        'sched_getparam',
        'sched_setparam',
        'sched_getscheduler',
        'sched_setscheduler',
        'sched_getattr',
        'sched_setattr',
        'sched_get_priority_max',
        'sched_get_priority_min',
        'sched_rr_get_interval',
        'getpriority',
        'setpriority',
        'ioprio_get',
        'ioprio_set',
        'getrlimit',
        'setrlimit',
        'prlimit64',
        'getrusage',
        'times',
      ],
      'scheduling and resource limits (raising either needs a capability the kernel checks)',
    ),
    allow(
      [
        'getuid',
        'geteuid',
        'getgid',
        'getegid',
        'getresuid',
        'getresgid',
        'getgroups',
        'setuid',
        'setgid',
        'setreuid',
        'setregid',
        'setresuid',
        'setresgid',
        'setgroups',
        'setfsuid',
        'setfsgid',
      ],
      'user and group ids (changing them needs CAP_SETUID/CAP_SETGID, checked by the kernel)',
    ),
    allow(
      [
        'rt_sigaction',
        'rt_sigprocmask',
        'rt_sigreturn',
        'rt_sigpending',
        'rt_sigtimedwait',
        'rt_sigqueueinfo',
        'rt_tgsigqueueinfo',
        'rt_sigsuspend',
        'sigaltstack',
        'pause',
        'alarm',
        'getitimer',
        'setitimer',
        'nanosleep',
        'clock_nanosleep',
        'clock_gettime',
        'clock_getres',
        'gettimeofday',
        'time',
        'timer_create',
        'timer_settime',
        'timer_gettime',
        'timer_getoverrun',
        'timer_delete',
        'adjtimex',
        'clock_adjtime',
      ],
      'signals, timers, reading the clock (adjtimex and clock_adjtime only read it without CAP_SYS_TIME)',
    ),
    allow(
      [
        'shmget',
        'shmat',
        'shmdt',
        'shmctl',
        'semget',
        'semop',
        'semtimedop',
        'semctl',
        'msgget',
        'msgsnd',
        'msgrcv',
        'msgctl',
        'mq_open',
        'mq_unlink',
        'mq_timedsend',
        'mq_timedreceive',
        'mq_notify',
        'mq_getsetattr',
      ],
      'System V and POSIX IPC (isolated by the IPC namespace)',
    ),
    allow(
      [
        'socketpair',
        'bind',
        'connect',
        'listen',
        'accept',
        'accept4',
        'getsockname',
        'getpeername',
        'getsockopt',
        'setsockopt',
        'sendto',
        'recvfrom',
        'sendmsg',
        'recvmsg',
        'sendmmsg',
        'recvmmsg',
        'shutdown',
      ],
      'sockets',
    ),
    allow(['socket'], 'any address family but AF_VSOCK', {
      args: [{ index: 0, value: AF_VSOCK, op: 'SCMP_CMP_NE' }],
    }),
    ...PERSONAS.map(([persona, what]) =>
      allow(['personality'], `personality(${what})`, { args: [{ index: 0, value: persona, op: 'SCMP_CMP_EQ' }] }),
    ),
    allow(['arch_prctl', 'modify_ldt'], 'x86 thread state and LDT (TLS, Wine)', {
      includes: { arches: ['amd64'] },
    }),
    allow(
      ['ptrace', 'process_vm_readv', 'process_vm_writev'],
      'debuggers; safe against seccomp bypass since Linux 4.8',
      {
        includes: { minKernel: '4.8' },
      },
    ),

    withCap(
      'CAP_SYS_ADMIN',
      [
        'clone',
        'clone3',
        'unshare',
        'setns',
        'mount',
        'umount2',
        'pivot_root',
        'mount_setattr',
        'move_mount',
        'open_tree',
        'fsopen',
        'fsconfig',
        'fsmount',
        'fspick',
        'sethostname',
        'setdomainname',
        'quotactl',
        'quotactl_fd',
        'fanotify_init',
        'lookup_dcookie',
        'bpf',
        'perf_event_open',
        'syslog',
      ],
      'namespaces and mounts (nested containers), and what else CAP_SYS_ADMIN stands for',
    ),
    allow(['clone'], 'threads and processes, but no new namespaces without CAP_SYS_ADMIN', {
      args: [{ index: 0, value: CLONE_NAMESPACE_FLAGS, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }],
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    }),
    {
      names: ['clone3'],
      action: 'SCMP_ACT_ERRNO',
      errnoRet: ENOSYS,
      comment: 'its flags are in memory a filter cannot read: make the C library fall back to clone',
      excludes: { caps: ['CAP_SYS_ADMIN'] },
    },
    withCap('CAP_SYS_CHROOT', ['chroot'], 'chroot'),
    withCap('CAP_SYS_MODULE', ['init_module', 'finit_module', 'delete_module'], 'kernel modules'),
    withCap('CAP_SYS_BOOT', ['reboot'], 'reboot (in a PID namespace: ends the container)'),
    withCap('CAP_SYS_PACCT', ['acct'], 'process accounting'),
    withCap('CAP_SYS_PTRACE', ['kcmp', 'pidfd_getfd', 'process_madvise'], 'reaching into other processes'),
    withCap('CAP_SYS_RAWIO', ['iopl', 'ioperm'], 'I/O ports'),
    withCap('CAP_SYS_TIME', ['settimeofday', 'clock_settime'], 'setting the clock (not namespaced)'),
    withCap('CAP_SYS_TTY_CONFIG', ['vhangup'], 'vhangup'),
    withCap('CAP_SYS_NICE', ['get_mempolicy', 'mbind', 'set_mempolicy', 'set_mempolicy_home_node'], 'NUMA policy'),
    withCap('CAP_SYSLOG', ['syslog'], 'the kernel log'),
    withCap('CAP_BPF', ['bpf'], 'eBPF'),
    withCap('CAP_PERFMON', ['perf_event_open'], 'performance monitoring'),
    withCap('CAP_DAC_READ_SEARCH', ['open_by_handle_at'], 'opening files by handle (escapes bind mounts)'),
  ],
};

/**
 * Never allowed, whatever the capabilities: listed for readers and checked
 * by a unit test against the profile above (the profile's default refuses
 * them already).
 */
export const alwaysRefused: readonly string[] = [
  'add_key',
  'keyctl',
  'request_key',
  'kexec_load',
  'kexec_file_load',
  'swapon',
  'swapoff',
  'userfaultfd',
  'io_uring_setup',
  'io_uring_enter',
  'io_uring_register',
  'uselib',
  'ustat',
  'sysfs',
  '_sysctl',
  'create_module',
  'get_kernel_syms',
  'query_module',
  'nfsservctl',
  'move_pages',
  'migrate_pages',
  'vserver',
  'afs_syscall',
  'tuxcall',
  'security',
  'getpmsg',
  'putpmsg',
];

export interface SeccompOptions {
  /** `default` (hutch's profile), `unconfined` (no filter) or the path of a JSON profile. */
  profile: 'default' | 'unconfined' | (string & {});
  capabilities: Capabilities;
  arch?: SeccompArch;
  /** The running kernel's release, for minKernel (default: os.release()). */
  kernel?: string;
}

/**
 * The compiled filter of a container (the `seccomp` of its ProcessSpec), or
 * undefined for unconfined. A file named `default` or `unconfined` is
 * reached as `./default`.
 */
export function seccompFor(options: SeccompOptions): Buffer | undefined {
  if (options.profile === 'unconfined') return undefined;
  const arch = options.arch ?? hostArch();
  const resolve = { arch, capabilities: options.capabilities, ...(options.kernel ? { kernel: options.kernel } : {}) };
  if (options.profile === 'default') return compileProfile(defaultProfile, resolve, 'default');
  return compileProfile(loadProfile(options.profile), resolve, options.profile);
}
