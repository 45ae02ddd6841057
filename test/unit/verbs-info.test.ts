import { describe, expect, it } from 'vitest';
import {
  fileSystemName,
  prettyName,
  processLimit,
  summarizeProblems,
  type Check,
  type HostInfo,
} from '../../src/verbs/info.js';

const ok = (detail = 'fine'): Check => ({ ok: true, detail });
const no = (detail: string, fix?: string): Check =>
  fix === undefined ? { ok: false, detail } : { ok: false, detail, fix };

/** A host where everything works; tests break one piece at a time. */
function healthyHost(): Omit<HostInfo, 'problems'> {
  return {
    host: { hutch: '0.1.0', node: 'v20', kernel: '6.1.0', distribution: 'Test', arch: 'x64', cpus: 2, memoryBytes: 1 },
    user: { uid: 1000, gid: 1000, name: 'alice', rootless: true },
    userNamespaces: {
      maxUserNamespaces: 100,
      unprivilegedUsernsClone: null,
      apparmorRestrictUnprivilegedUserns: null,
      usable: ok(),
    },
    session: { active: false, pid: null, inside: false, uidMap: null, gidMap: null },
    idMappings: {
      mappings: ok(),
      uid: [],
      gid: [],
      subuid: [],
      subgid: [],
      newuidmap: { ...ok(), path: '/usr/bin/newuidmap' },
      newgidmap: { ...ok(), path: '/usr/bin/newgidmap' },
    },
    storage: {
      storage: '/s',
      runtime: '/r',
      fileSystem: { path: '/s', type: 'ext4', magic: '0xef53' },
      diskReserve: { bytes: 2 ** 30, source: 'default', origin: 'default: min(5%, 1 GiB)' },
    },
    rootfs: {
      drivers: [
        { name: 'overlay', ...ok() },
        { name: 'fuse-overlayfs', ...no('fuse-overlayfs not found on PATH', 'install fuse-overlayfs') },
        { name: 'copy', ...ok() },
      ],
      selected: 'overlay',
    },
    network: {
      drivers: [
        { name: 'slirp4netns', ...ok() },
        { name: 'pasta', ...no('pasta not found on PATH', 'install passt') },
        { name: 'none', ...ok() },
      ],
      selected: 'slirp4netns',
      default: 'slirp4netns',
    },
    cgroups: {
      layout: 'v2',
      v1Controllers: [],
      v2Mount: '/sys/fs/cgroup',
      v2Path: '/u',
      v2Dir: '/sys/fs/cgroup/u',
      delegated: true,
      v2DirOwner: 1000,
      delegatedAncestor: null,
      delegationRoot: '/sys/fs/cgroup/u',
      controllers: ['cpu', 'io', 'memory', 'pids'],
      delegatedControllers: ['cpu', 'io', 'memory', 'pids'],
      missing: [],
      checks: { layout: ok(), delegation: ok(), controllers: ok() },
      drivers: [
        { name: 'v2', ...ok() },
        { name: 'none', ...ok() },
      ],
      selected: 'v2',
    },
    devices: { tun: ok(), fuse: ok() },
    limits: { processes: ok(), logs: { maxSize: 0, maxFiles: 1 } },
  };
}

describe('host info', () => {
  it('reads PRETTY_NAME from os-release, quoted or not', () => {
    expect(prettyName('NAME="Debian GNU/Linux"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe(
      'Debian GNU/Linux 12 (bookworm)',
    );
    expect(prettyName("PRETTY_NAME='Alpine Linux v3.20'")).toBe('Alpine Linux v3.20');
    expect(prettyName('PRETTY_NAME=Arch\\ Linux')).toBe('Arch\\ Linux');
    expect(prettyName('PRETTY_NAME="say \\"hi\\""')).toBe('say "hi"');
    expect(prettyName('NAME=x\n')).toBeUndefined();
  });

  it('names file systems by their statfs magic', () => {
    expect(fileSystemName(0xef53)).toBe('ext4');
    expect(fileSystemName(0x9123683e)).toBe('btrfs');
    expect(fileSystemName(0x794c7630)).toBe('overlay');
    expect(fileSystemName(0x12345)).toBe('unknown (0x12345)');
  });

  it('has no problems on a healthy host, though a less preferred driver is missing', () => {
    expect(summarizeProblems(healthyHost())).toEqual([]);
  });

  it('lists the drivers that rank above the one selected', () => {
    const info = healthyHost();
    info.rootfs.drivers[0] = { name: 'overlay', ...no('EPERM: operation not permitted, mount', 'kernel >= 5.11') };
    info.rootfs.selected = 'copy';
    expect(summarizeProblems(info)).toEqual([
      { area: 'rootfs', problem: 'overlay: EPERM: operation not permitted, mount', fix: 'kernel >= 5.11' },
      { area: 'rootfs', problem: 'fuse-overlayfs: fuse-overlayfs not found on PATH', fix: 'install fuse-overlayfs' },
    ]);
  });

  it('says each fix once, with every problem it solves', () => {
    const info = healthyHost();
    const unified = 'boot with systemd.unified_cgroup_hierarchy=1';
    info.cgroups.checks = {
      layout: no('hybrid', unified),
      delegation: no('not yours', 'Delegate=yes'),
      controllers: no('missing: cpu', unified),
    };
    info.devices.tun = no('/dev/net/tun is not read-write for you (EACCES)', 'chmod 666 /dev/net/tun');
    info.network.drivers[0] = { name: 'slirp4netns', ...no('but /dev/net/tun ...', 'chmod 666 /dev/net/tun') };
    info.network.drivers[1] = { name: 'pasta', ...no('but /dev/net/tun ...', 'chmod 666 /dev/net/tun') };
    info.network.selected = 'none';
    expect(summarizeProblems(info)).toEqual([
      {
        area: 'network',
        problem:
          'slirp4netns: but /dev/net/tun ...; pasta: but /dev/net/tun ...; /dev/net/tun is not read-write for you (EACCES)',
        fix: 'chmod 666 /dev/net/tun',
      },
      { area: 'cgroups', problem: 'hybrid; missing: cpu', fix: unified },
      { area: 'cgroups', problem: 'not yours', fix: 'Delegate=yes' },
    ]);
  });

  it('reports user namespaces, id mappings and helpers', () => {
    const info = healthyHost();
    info.userNamespaces.usable = no('create a user namespace: EPERM', 'sysctl');
    info.idMappings.mappings = no('single', 'usermod');
    info.idMappings.newuidmap = { ...no('newuidmap not found on PATH', 'install uidmap'), path: null };
    info.idMappings.newgidmap = { ...no('newgidmap not found on PATH', 'install uidmap'), path: null };
    expect(summarizeProblems(info).map((p) => [p.area, p.problem])).toEqual([
      ['user namespaces', 'create a user namespace: EPERM'],
      ['id mappings', 'single'],
      ['id mappings', 'newuidmap: newuidmap not found on PATH; newgidmap: newgidmap not found on PATH'],
    ]);
  });
});

describe('what bounds a fork bomb (info: limits)', () => {
  it("is the cgroup's pids.max, 2048 by default, where the pids controller is delegated", () => {
    expect(processLimit(healthyHost().cgroups)).toEqual({
      ok: true,
      detail: "each container's cgroup holds at most 2048 processes unless --pids-limit says otherwise (-1: none)",
    });
  });

  it('is RLIMIT_NPROC alone where none is, said with the fix', () => {
    const fix = 'systemd: give user@.service Delegate=yes';
    for (const cgroups of [
      { ...healthyHost().cgroups, delegatedControllers: ['cpu', 'memory'], missing: ['pids', 'io'] },
      { ...healthyHost().cgroups, delegated: false, delegationRoot: null },
    ]) {
      const check = processLimit({ ...cgroups, checks: { ...cgroups.checks, controllers: no('missing pids', fix) } });
      expect(check.ok).toBe(false);
      expect(check.detail).toMatch(
        /^no pids controller is delegated: nothing bounds a fork bomb in a container but RLIMIT_NPROC, which counts every process of its user, not of one container \(yours: (\d+|unlimited)\); --ulimit nproc=N\[:M\] sets a container's$/,
      );
      expect(check.fix).toBe(fix);
    }
  });

  it('is not a problem of its own: the controllers check carries the fix', () => {
    const host = healthyHost();
    host.limits.processes = no('no pids controller is delegated', 'delegate');
    expect(summarizeProblems(host)).toEqual([]);
  });
});
