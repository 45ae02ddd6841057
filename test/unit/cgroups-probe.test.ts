// The cgroup probe on fake /proc and /sys trees: how it classifies the host,
// finds our own v2 cgroup, decides delegation and names the missing controllers.
import { chmodSync, chownSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { checkCgroups, parseCgroupMounts, probeCgroups } from '../../src/run/cgroups/probe.js';

// Ownership decides delegation. As root the files are chowned to a made-up user;
// otherwise they are ours already. Either way `user` owns them and `stranger` does not.
const realUid = process.geteuid?.() ?? 0;
const user = realUid === 0 ? 4242 : realUid;
const stranger = user + 1;

const roots: string[] = [];
afterEach(() => {
  for (const root of roots.splice(0)) {
    // Directories made read-only below must be writable again to be removed.
    for (const entry of readdirSync(root, { recursive: true, withFileTypes: true })) {
      if (entry.isDirectory()) chmodSync(join(entry.parentPath, entry.name), 0o755);
    }
    rmSync(root, { recursive: true, force: true });
  }
});

interface Tree {
  procCgroup: string;
  mountinfo: string;
  /** cgroup directories (absolute, as mounted) and their cgroup.controllers. */
  cgroups: Record<string, string>;
  /** cgroup directories that belong to `user` (dir, cgroup.procs), as Delegate=yes leaves them. */
  delegated?: string[];
}

function fakeHost(tree: Tree): string {
  const root = mkdtempSync(join(tmpdir(), 'hutch-cgroups-'));
  roots.push(root);
  const write = (path: string, text: string) => {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), text);
  };
  write('/proc/self/cgroup', tree.procCgroup);
  write('/proc/self/mountinfo', tree.mountinfo);
  for (const [dir, controllers] of Object.entries(tree.cgroups)) {
    mkdirSync(join(root, dir), { recursive: true });
    write(join(dir, 'cgroup.controllers'), `${controllers}\n`);
    write(join(dir, 'cgroup.procs'), '');
    chmodSync(join(root, dir), 0o755);
    chmodSync(join(root, dir, 'cgroup.procs'), 0o644);
  }
  for (const dir of tree.delegated ?? []) {
    if (realUid === 0) {
      chownSync(join(root, dir), user, user);
      chownSync(join(root, dir, 'cgroup.procs'), user, user);
    }
  }
  // Not delegated: read-only for the owner too, as the kernel shows a cgroup that is not ours.
  for (const dir of Object.keys(tree.cgroups).filter((d) => !(tree.delegated ?? []).includes(d))) {
    if (realUid !== 0) {
      chmodSync(join(root, dir), 0o555);
      chmodSync(join(root, dir, 'cgroup.procs'), 0o444);
    }
  }
  return root;
}

const SYSTEMD_USER = '/user.slice/user-1000.slice/user@1000.service';

const unifiedMountinfo = [
  '22 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw',
  '24 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw',
  '30 24 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:4 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot',
].join('\n');

// This host's layout (HOST.md): controllers on v1, a v2 mount at unified/ with hugetlb only.
const hybridMountinfo = [
  '30 22 0:27 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755',
  '31 30 0:28 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu',
  '32 30 0:29 / /sys/fs/cgroup/cpuacct rw,relatime - cgroup cgroup rw,cpuacct',
  '33 30 0:30 / /sys/fs/cgroup/cpuset rw,relatime - cgroup cgroup rw,cpuset',
  '34 30 0:31 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory',
  '35 30 0:32 / /sys/fs/cgroup/devices rw,relatime - cgroup cgroup rw,devices',
  '36 30 0:33 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer',
  '37 30 0:34 / /sys/fs/cgroup/blkio rw,relatime - cgroup cgroup rw,blkio',
  '38 30 0:35 / /sys/fs/cgroup/pids rw,relatime - cgroup cgroup rw,pids',
  '39 30 0:36 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,name=systemd',
  '40 30 0:37 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw',
].join('\n');
const hybridProcCgroup = [
  '9:name=systemd:/',
  '8:pids:/',
  '7:blkio:/',
  '6:freezer:/',
  '5:devices:/',
  '4:memory:/',
  '3:cpuset:/',
  '2:cpuacct:/',
  '1:cpu:/',
  '0::/',
].join('\n');

describe('cgroup probe', () => {
  it('finds a delegated systemd user subtree on a cgroup v2 host', () => {
    const own = `${SYSTEMD_USER}/app.slice/app-term.scope`;
    const root = fakeHost({
      procCgroup: `0::${own}\n`,
      mountinfo: unifiedMountinfo,
      cgroups: {
        '/sys/fs/cgroup': 'cpuset cpu io memory hugetlb pids rdma misc',
        [`/sys/fs/cgroup${own}`]: 'cpu io memory pids',
      },
      delegated: [`/sys/fs/cgroup${own}`],
    });
    const report = probeCgroups({ root, uid: user });
    expect(report.layout).toBe('v2');
    expect(report.v1Controllers).toEqual([]);
    expect(report.v2Mount).toBe('/sys/fs/cgroup');
    expect(report.v2Dir).toBe(`/sys/fs/cgroup${own}`);
    expect(report.delegated).toBe(true);
    expect(report.controllers).toEqual(['cpu', 'io', 'memory', 'pids']);
    expect(report.missing).toEqual([]);
    expect(Object.values(report.checks).map((c) => c.ok)).toEqual([true, true, true]);
    expect(report.selected).toBe('v2');
  });

  it("climbs to the top of the delegated subtree (systemd's user@UID.service) for the controllers containers get", () => {
    const own = `${SYSTEMD_USER}/app.slice/app-term.scope`;
    const root = fakeHost({
      procCgroup: `0::${own}\n`,
      mountinfo: unifiedMountinfo,
      cgroups: {
        '/sys/fs/cgroup/user.slice/user-1000.slice': 'cpu io memory pids',
        [`/sys/fs/cgroup${SYSTEMD_USER}`]: 'cpu io memory pids',
        [`/sys/fs/cgroup${SYSTEMD_USER}/app.slice`]: 'memory pids',
        [`/sys/fs/cgroup${own}`]: '',
      },
      delegated: [`/sys/fs/cgroup${SYSTEMD_USER}`, `/sys/fs/cgroup${SYSTEMD_USER}/app.slice`, `/sys/fs/cgroup${own}`],
    });
    const report = probeCgroups({ root, uid: user });
    expect(report.delegationRoot).toBe(`/sys/fs/cgroup${SYSTEMD_USER}`);
    expect(report.controllers).toEqual([]);
    expect(report.delegatedControllers).toEqual(['cpu', 'io', 'memory', 'pids']);
    expect(report.missing).toEqual([]);
    expect(report.checks.delegation.detail).toBe(
      `/sys/fs/cgroup${own} is writable by you (delegated: the subtree from /sys/fs/cgroup${SYSTEMD_USER})`,
    );
    expect(report.checks.controllers).toEqual({ ok: true, detail: 'cpu io memory pids' });
    expect(report.drivers[0]).toEqual({
      name: 'v2',
      ok: true,
      detail: `every container gets a cgroup of its own under /sys/fs/cgroup${SYSTEMD_USER}/hutch: pause, stats, kill of all its processes, every limit`,
    });
  });

  it('finds a plain chowned subtree of the hybrid v2 hierarchy, which offers no limits but a cgroup per container', () => {
    const slice = '/sys/fs/cgroup/unified/hutch-test-1001.slice';
    const root = fakeHost({
      procCgroup: hybridProcCgroup.replace('0::/', '0::/hutch-test-1001.slice/tests.scope'),
      mountinfo: hybridMountinfo,
      cgroups: { '/sys/fs/cgroup/unified': 'hugetlb', [slice]: '', [`${slice}/tests.scope`]: '' },
      delegated: [slice, `${slice}/tests.scope`],
    });
    const report = probeCgroups({ root, uid: user });
    expect(report.layout).toBe('hybrid');
    expect(report.delegationRoot).toBe(slice);
    expect(report.missing).toEqual(['cpu', 'memory', 'pids', 'io']);
    expect(report.checks.controllers.detail).toBe('available: none; missing: cpu memory pids io');
    expect(report.checks.controllers.fix).toMatch(/systemd\.unified_cgroup_hierarchy=1/);
    expect(report.selected).toBe('v2');
    expect(report.drivers[0]?.detail).toBe(
      `every container gets a cgroup of its own under ${slice}/hutch: pause, stats, kill of all its processes, no cpu, memory, pids, io limits`,
    );
  });

  it('names the missing controllers of a delegated subtree, with the delegation fix', () => {
    const own = `${SYSTEMD_USER}/app.slice/app-term.scope`;
    const root = fakeHost({
      procCgroup: `0::${own}\n`,
      mountinfo: unifiedMountinfo,
      cgroups: { [`/sys/fs/cgroup${own}`]: 'memory pids' },
      delegated: [`/sys/fs/cgroup${own}`],
    });
    const report = probeCgroups({ root, uid: user });
    expect(report.missing).toEqual(['cpu', 'io']);
    expect(report.checks.controllers.ok).toBe(false);
    expect(report.checks.controllers.detail).toBe('available: memory pids; missing: cpu io');
    expect(report.checks.controllers.fix).toMatch(/Delegate=yes/);
    // Limits are missing, but the driver still gives each container a cgroup.
    expect(report.selected).toBe('v2');
  });

  it('classifies a v1 + v2 hybrid host, where the v2 hierarchy offers only hugetlb', () => {
    const root = fakeHost({
      procCgroup: hybridProcCgroup,
      mountinfo: hybridMountinfo,
      cgroups: { '/sys/fs/cgroup/unified': 'hugetlb' },
    });
    const report = probeCgroups({ root, uid: stranger });
    expect(report.layout).toBe('hybrid');
    expect(report.v1Controllers).toEqual(['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids']);
    expect(report.v2Mount).toBe('/sys/fs/cgroup/unified');
    expect(report.v2Dir).toBe('/sys/fs/cgroup/unified');
    expect(report.delegated).toBe(false);
    expect(report.controllers).toEqual(['hugetlb']);
    expect(report.missing).toEqual(['cpu', 'memory', 'pids', 'io']);
    expect(report.checks.layout).toMatchObject({
      ok: false,
      fix: 'boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line to get cgroup v2 controllers',
    });
    expect(report.checks.delegation.ok).toBe(false);
    expect(report.checks.delegation.fix).toMatch(
      /^systemd: give user@\.service Delegate=yes .*chown the user's cgroup/,
    );
    expect(report.checks.controllers.fix).toMatch(/systemd\.unified_cgroup_hierarchy=1/);
    expect(report.selected).toBe('none');
    // hutch info's "containers:" line says what that means, and why.
    expect(report.drivers[1]?.detail).toMatch(
      /^containers share your cgroup: no resource limits, no pause, no stats \(\/sys\/fs\/cgroup\/unified is not delegated to you \(its owner is uid \d+\)\)$/,
    );
  });

  it('classifies a cgroup v1 host, which has no v2 hierarchy at all', () => {
    const root = fakeHost({
      procCgroup: [
        '12:pids:/user.slice/user-1000.slice/session-2.scope',
        '11:memory:/user.slice/user-1000.slice/session-2.scope',
        '4:cpu,cpuacct:/user.slice',
        '3:blkio:/user.slice',
        '1:name=systemd:/user.slice/user-1000.slice/session-2.scope',
      ].join('\n'),
      mountinfo: [
        '25 24 0:22 / /sys/fs/cgroup ro,nosuid,nodev,noexec shared:4 - tmpfs tmpfs ro,mode=755',
        '26 25 0:23 / /sys/fs/cgroup/systemd rw,nosuid shared:5 - cgroup cgroup rw,xattr,name=systemd',
        '29 25 0:26 / /sys/fs/cgroup/cpu,cpuacct rw,nosuid shared:8 - cgroup cgroup rw,cpu,cpuacct',
        '30 25 0:27 / /sys/fs/cgroup/memory rw,nosuid shared:9 - cgroup cgroup rw,memory',
        '31 25 0:28 / /sys/fs/cgroup/pids rw,nosuid shared:10 - cgroup cgroup rw,pids',
        '32 25 0:29 / /sys/fs/cgroup/blkio rw,nosuid shared:11 - cgroup cgroup rw,blkio',
      ].join('\n'),
      cgroups: {},
    });
    const report = probeCgroups({ root, uid: user });
    expect(report.layout).toBe('v1');
    expect(report.v1Controllers).toEqual(['blkio', 'cpu', 'cpuacct', 'memory', 'pids']);
    expect(report.v2Mount).toBeNull();
    expect(report.v2Dir).toBeNull();
    expect(report.delegated).toBe(false);
    expect(report.missing).toEqual(['cpu', 'memory', 'pids', 'io']);
    for (const check of Object.values(report.checks)) {
      expect(check.ok).toBe(false);
      expect(check.fix).toMatch(/systemd\.unified_cgroup_hierarchy=1/);
    }
    expect(report.selected).toBe('none');
  });

  it('points at the delegated subtree when this process runs outside it (a login session scope)', () => {
    const scope = '/user.slice/user-1000.slice/session-3.scope';
    const root = fakeHost({
      procCgroup: `0::${scope}\n`,
      mountinfo: unifiedMountinfo,
      cgroups: {
        '/sys/fs/cgroup/user.slice/user-1000.slice': 'cpu io memory pids',
        [`/sys/fs/cgroup${scope}`]: 'cpu io memory pids',
        [`/sys/fs/cgroup${SYSTEMD_USER}`]: 'cpu io memory pids',
      },
      delegated: [`/sys/fs/cgroup${SYSTEMD_USER}`],
    });
    const report = probeCgroups({ root, uid: user });
    expect(report.delegated).toBe(false);
    // user@1000.service is a sibling, not an ancestor: nothing to point at.
    expect(report.delegatedAncestor).toBeNull();
    expect(report.checks.delegation.fix).toMatch(/Delegate=yes/);

    const inside = `${SYSTEMD_USER}/init.scope`;
    const root2 = fakeHost({
      procCgroup: `0::${inside}\n`,
      mountinfo: unifiedMountinfo,
      cgroups: {
        [`/sys/fs/cgroup${inside}`]: 'cpu io memory pids',
        [`/sys/fs/cgroup${SYSTEMD_USER}`]: 'cpu io memory pids',
      },
      delegated: [`/sys/fs/cgroup${SYSTEMD_USER}`],
    });
    const report2 = probeCgroups({ root: root2, uid: user });
    expect(report2.delegated).toBe(false);
    expect(report2.delegatedAncestor).toBe(`/sys/fs/cgroup${SYSTEMD_USER}`);
    expect(report2.checks.delegation.fix).toMatch(/systemd-run --user --scope/);
  });

  it('maps our cgroup through a mount whose root is not the hierarchy root (a cgroup namespace, a container)', () => {
    const root = fakeHost({
      procCgroup: '0::/machine/ctr1/app\n',
      mountinfo: '40 30 0:37 /machine/ctr1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
      cgroups: { '/sys/fs/cgroup/app': 'memory pids' },
      delegated: ['/sys/fs/cgroup/app'],
    });
    const report = probeCgroups({ root, uid: user });
    expect(report.v2Dir).toBe('/sys/fs/cgroup/app');
    expect(report.delegated).toBe(true);

    const outside = fakeHost({
      procCgroup: '0::/elsewhere\n',
      mountinfo: '40 30 0:37 /machine/ctr1 /sys/fs/cgroup rw - cgroup2 cgroup2 rw\n',
      cgroups: {},
    });
    const hidden = probeCgroups({ root: outside, uid: user });
    expect(hidden.v2Dir).toBeNull();
    expect(hidden.checks.delegation.detail).toMatch(/\/elsewhere is not visible under \/sys\/fs\/cgroup/);
  });

  it('unescapes mount points as mountinfo writes them', () => {
    expect(parseCgroupMounts('40 30 0:37 / /mnt/my\\040cgroup rw - cgroup2 cgroup2 rw\n')).toEqual([
      { root: '/', mountPoint: '/mnt/my cgroup', fsType: 'cgroup2' },
    ]);
  });

  it('reports a host without any cgroup file system', () => {
    const checks = checkCgroups(
      probeCgroups({ root: fakeHost({ procCgroup: '', mountinfo: '', cgroups: {} }), uid: user }),
    );
    expect(checks.layout).toMatchObject({ ok: false, detail: 'no cgroup file system is mounted' });
  });
});
