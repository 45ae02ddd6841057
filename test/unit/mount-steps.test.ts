/**
 * The plan of a container's mounts, step by step, for the defaults (hutch
 * run's spec and a build RUN's: the same devices, masked and read-only paths)
 * and with volumes over them. No privileges: prepareRootfs makes the mount
 * points in a temp directory, the plan is only built. The child running such
 * plans is tested in test/native/fs-wrappers.test.ts.
 */
import { existsSync, lstatSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Mount, Plan, PlanOp } from '../../src/host/plan.js';
import { defaultDevices, defaultMaskedPaths, defaultReadonlyPaths } from '../../src/run/container/mount-defaults.js';
import { prepareRootfs } from '../../src/run/container/mount-prepare.js';
import { mountSteps } from '../../src/run/container/mount-steps.js';
import type { ContainerSpec, MountSpec } from '../../src/run/container/spec.js';

const scratchDirs: string[] = [];
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

function spec(rootfs: string, mounts: MountSpec[]): ContainerSpec {
  const etc = scratch('hutch-etc-');
  for (const f of ['hosts', 'hostname', 'resolv.conf']) writeFileSync(join(etc, f), '');
  return {
    id: 'x',
    rootfs,
    readonlyRootfs: false,
    hostname: 'x',
    etcFiles: { hosts: join(etc, 'hosts'), hostname: join(etc, 'hostname'), resolvConf: join(etc, 'resolv.conf') },
    mounts,
    devices: [...defaultDevices],
    maskedPaths: [...defaultMaskedPaths],
    readonlyPaths: [...defaultReadonlyPaths],
    network: { mode: 'new' },
    // Given, so that devpts's gid=5 does not depend on the user running the test.
    userNamespace: {
      uidMap: [{ inside: 0, outside: 0, count: 65536 }],
      gidMap: [{ inside: 0, outside: 0, count: 65536 }],
    },
    init: undefined,
    process: {
      args: ['sh'],
      env: [],
      cwd: '/',
      uid: 0,
      gid: 0,
      additionalGids: [],
      terminal: false,
      noNewPrivileges: true,
      capabilities: { bounding: 0n, effective: 0n, permitted: 0n, inheritable: 0n, ambient: 0n },
      seccomp: undefined,
      rlimits: [],
      umask: 0o022,
    },
  };
}

/** The steps as lines, the rootfs shown as R and the etc files' directory as E. */
function planOf(s: ContainerSpec): { steps: string[]; created: string[] } {
  const prepared = prepareRootfs(s, { cgroupNamespace: true, privateIpc: true });
  const plan = new Plan();
  mountSteps(plan, s, prepared);
  const etc = s.etcFiles.hosts.slice(0, -'/hosts'.length);
  const r = (p: string | null) =>
    p === null ? '-' : p.startsWith(prepared.root) ? `R${p.slice(prepared.root.length)}` : p.replace(etc, 'E');
  const steps = plan.steps.map((step) => {
    const [a, b, c, d] = step.str;
    const name = PlanOp[step.op];
    if (step.op === PlanOp.Mount)
      return `${name} ${r(a ?? null)} ${r(b ?? null)} ${c ?? '-'} ${step.num[0]} ${d ?? '-'}`;
    if (step.op === PlanOp.Symlink) return `${name} ${a} ${r(b ?? null)}`;
    if (step.op === PlanOp.Mkdir || step.op === PlanOp.Mknod)
      return `${name} ${r(a ?? null)} ${step.num[0]?.toString(8)}`;
    return `${name} ${r(a ?? null)}`;
  });
  return { steps, created: prepared.created };
}

const { BIND, REC, REMOUNT, RDONLY, NOSUID, NODEV, NOEXEC, SLAVE, STRICTATIME } = Mount;
const PROC = NOSUID | NOEXEC | NODEV;
const SYSFS = PROC | RDONLY;

/** What the host's kernel has decides which masked and read-only paths there are, and /dev/core. */
function existing(paths: readonly string[]): string[] {
  return paths.filter((p) => {
    const stat = lstatSync(p, { throwIfNoEntry: false });
    return stat !== undefined && !stat.isSymbolicLink();
  });
}

function defaultSteps(): string[] {
  return [
    `Mount - / - ${REC | SLAVE} -`,
    `Mount R R - ${BIND | REC} -`,
    `Mount proc R/proc proc ${PROC} -`,
    `Mount tmpfs R/dev tmpfs ${NOSUID | STRICTATIME} mode=755,size=65536k`,
    'Mkdir R/dev/pts 755',
    `Mount devpts R/dev/pts devpts ${NOSUID | NOEXEC} newinstance,ptmxmode=0666,mode=0620,gid=5`,
    'Mkdir R/dev/shm 755',
    `Mount shm R/dev/shm tmpfs ${NOSUID | NODEV | NOEXEC} mode=1777,size=65536k`,
    'Mkdir R/dev/mqueue 755',
    `Mount mqueue R/dev/mqueue mqueue ${NOSUID | NODEV | NOEXEC} -`,
    ...defaultDevices.flatMap((d) => [`Mknod R${d} 100644`, `Mount ${d} R${d} - ${BIND} -`]),
    'Symlink /proc/self/fd R/dev/fd',
    'Symlink /proc/self/fd/0 R/dev/stdin',
    'Symlink /proc/self/fd/1 R/dev/stdout',
    'Symlink /proc/self/fd/2 R/dev/stderr',
    'Symlink pts/ptmx R/dev/ptmx',
    ...(existsSync('/proc/kcore') ? ['Symlink /proc/kcore R/dev/core'] : []),
    `Mount sysfs R/sys sysfs ${SYSFS} -`,
    `Mount cgroup2 R/sys/fs/cgroup cgroup2 ${SYSFS} -`,
    `Mount E/hosts R/etc/hosts - ${BIND} -`,
    `Mount E/hostname R/etc/hostname - ${BIND} -`,
    `Mount E/resolv.conf R/etc/resolv.conf - ${BIND} -`,
  ];
}

function closingSteps(): string[] {
  return [
    ...existing(defaultReadonlyPaths).flatMap((p) => [
      `Mount R${p} R${p} - ${BIND | REC} -`,
      `Mount - R${p} - ${BIND | REMOUNT | RDONLY | PROC} -`,
    ]),
    ...existing(defaultMaskedPaths).map((p) =>
      lstatSync(p).isDirectory() ? `Mount tmpfs R${p} tmpfs ${RDONLY} -` : `Mount /dev/null R${p} - ${BIND} -`,
    ),
    'Chdir R',
    'PivotRoot .',
    `Mount - . - ${SLAVE | REC} -`,
    'Umount .',
    'Chdir /',
  ];
}

describe('the mount plan of a default container', () => {
  it("is runc's order: /proc, /dev and what is in it, /sys, the /etc files, masked and read-only paths, pivot_root", () => {
    const rootfs = scratch('hutch-rootfs-');
    const { steps, created } = planOf(spec(rootfs, []));
    expect(steps).toEqual([...defaultSteps(), ...closingSteps()]);
    expect(created).toEqual(['/proc', '/dev', '/sys', '/etc', '/etc/hosts', '/etc/hostname', '/etc/resolv.conf']);
  });

  it('leaves out a default a volume replaces (/dev/shm), and adds volumes after the /etc files', () => {
    const rootfs = scratch('hutch-rootfs-');
    const vol = scratch('hutch-vol-');
    const { steps } = planOf(
      spec(rootfs, [
        { type: 'tmpfs', destination: '/dev/shm', readonly: false, data: ['size=1m'], options: [] },
        { type: 'bind', source: vol, destination: '/data', readonly: true, recursive: true, options: ['nodev'] },
      ]),
    );
    const expected = defaultSteps().filter((s) => !s.includes('R/dev/shm'));
    const last = expected.length;
    expect(steps.slice(0, last)).toEqual(expected);
    expect(steps.slice(last, last + 4)).toEqual([
      'Mkdir R/dev/shm 755',
      `Mount tmpfs R/dev/shm tmpfs 0 size=1m`,
      `Mount ${vol} R/data - ${BIND | REC} -`,
      // The remount keeps what the volume's own mount has locked (statfs of the host's directory).
      expect.stringMatching(/^Mount - R\/data - \d+ -$/),
    ]);
  });
});
