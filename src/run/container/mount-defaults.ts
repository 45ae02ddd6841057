/**
 * What every container gets mounted without asking for it, in one place: the
 * masked and read-only paths of /proc and /sys, the host devices bound into
 * /dev and /dev's symlinks, the files of /etc hutch writes, how proc, sysfs
 * and /dev's tmpfs are mounted, and the mount points all this makes in a
 * rootfs (which commit and a build step leave out of a layer while they are
 * empty). prepareRootfs (mount-prepare.ts) and mountSteps (mount-steps.ts)
 * mount them; hutch run's spec (spec-builder.ts) and a build RUN's
 * (ephemeral.ts) take the lists from here.
 */
import { Mount } from '../../host/plan.js';

/** runc's default masked paths (and podman's): hidden behind /dev/null or an empty read-only tmpfs. */
export const defaultMaskedPaths: readonly string[] = [
  '/proc/acpi',
  '/proc/asound',
  '/proc/kcore',
  '/proc/keys',
  '/proc/latency_stats',
  '/proc/timer_list',
  '/proc/timer_stats',
  '/proc/sched_debug',
  '/proc/scsi',
  '/sys/firmware',
  '/sys/devices/virtual/powercap',
];

/** runc's default read-only paths: bound onto themselves, then remounted read-only. */
export const defaultReadonlyPaths: readonly string[] = [
  '/proc/bus',
  '/proc/fs',
  '/proc/irq',
  '/proc/sys',
  '/proc/sysrq-trigger',
];

/** Host device nodes bound into /dev (a user namespace cannot mknod them). */
export const defaultDevices: readonly string[] = [
  '/dev/null',
  '/dev/zero',
  '/dev/full',
  '/dev/random',
  '/dev/urandom',
  '/dev/tty',
];

/** /dev's symlinks, as runc makes them (core only when the kernel has /proc/kcore). */
export const DEV_LINKS: readonly [string, string][] = [
  ['/proc/self/fd', 'fd'],
  ['/proc/self/fd/0', 'stdin'],
  ['/proc/self/fd/1', 'stdout'],
  ['/proc/self/fd/2', 'stderr'],
  ['pts/ptmx', 'ptmx'],
];

/**
 * Files of /proc a volume may be mounted over (runc's list: lxcfs provides
 * them); every other destination inside /proc is refused.
 */
export const PROC_MOUNTABLE = new Set([
  '/proc/cpuinfo',
  '/proc/diskstats',
  '/proc/meminfo',
  '/proc/stat',
  '/proc/swaps',
  '/proc/uptime',
  '/proc/loadavg',
  '/proc/slabinfo',
  '/proc/net/dev',
]);

/** The files of /etc hutch writes and binds (spec.etcFiles), in the order they are mounted. */
export const ETC_FILES = {
  hosts: '/etc/hosts',
  hostname: '/etc/hostname',
  resolvConf: '/etc/resolv.conf',
} as const;

/** Where --init's binary is bound. */
export const INIT_PATH = '/run/hutch-init';

export const PROC_FLAGS = Mount.NOSUID | Mount.NOEXEC | Mount.NODEV;
export const SYSFS_FLAGS = Mount.NOSUID | Mount.NOEXEC | Mount.NODEV | Mount.RDONLY;
export const TMPFS_DEV_DATA = 'mode=755,size=65536k';
export const SHM_DATA = 'mode=1777,size=65536k';

/**
 * The mount points prepareRootfs makes in a rootfs for the mounts every
 * container gets (the init binary's and the volumes' aside): still empty in
 * the upper directory after the container ran, they are no change of the image.
 */
export const DEFAULT_MOUNT_POINTS: readonly string[] = [
  ...Object.values(ETC_FILES),
  '/proc',
  '/sys',
  '/sys/fs/cgroup',
  '/dev',
  '/dev/pts',
  '/dev/shm',
  '/dev/mqueue',
  ...defaultDevices,
];
