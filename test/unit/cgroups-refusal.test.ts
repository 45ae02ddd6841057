// Why a limit cannot be had on a host, in one line with the fix: never accepted and ignored.
import { describe, expect, it } from 'vitest';
import { neededControllers, type Limits } from '../../src/run/cgroups/limits.js';
import { refusal } from '../../src/run/cgroups/none.js';
import type { CgroupFacts } from '../../src/run/cgroups/probe.js';

const USER = '/sys/fs/cgroup/user.slice/user-1000.slice/user@1000.service';

const delegatedV2: CgroupFacts = {
  layout: 'v2',
  v1Controllers: [],
  v2Mount: '/sys/fs/cgroup',
  v2Path: '/user.slice/user-1000.slice/user@1000.service/app.slice/term.scope',
  v2Dir: `${USER}/app.slice/term.scope`,
  delegated: true,
  v2DirOwner: 1000,
  delegatedAncestor: null,
  delegationRoot: USER,
  controllers: ['cpu', 'memory', 'pids'],
  delegatedControllers: ['cpu', 'memory', 'pids'],
  missing: ['io'],
};

// This host (HOST.md): controllers bound to v1, a chowned subtree of the v2 hierarchy with none.
const hybrid: CgroupFacts = {
  layout: 'hybrid',
  v1Controllers: ['blkio', 'cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'memory', 'pids'],
  v2Mount: '/sys/fs/cgroup/unified',
  v2Path: '/hutch-test-1001.slice/tests.scope',
  v2Dir: '/sys/fs/cgroup/unified/hutch-test-1001.slice/tests.scope',
  delegated: true,
  v2DirOwner: 1001,
  delegatedAncestor: null,
  delegationRoot: '/sys/fs/cgroup/unified/hutch-test-1001.slice',
  controllers: [],
  delegatedControllers: [],
  missing: ['cpu', 'memory', 'pids', 'io'],
};

function refused(facts: CgroupFacts, limits: Limits, kernel?: string[]) {
  const error = refusal(facts, neededControllers(limits), kernel);
  return error === undefined ? undefined : { message: error.message, hint: error.hint, exitCode: error.exitCode };
}

describe('cgroup refusals', () => {
  it('accepts what a delegated subtree has', () => {
    expect(refused(delegatedV2, { memory: 1 << 25, cpus: 1, pidsLimit: 5 })).toBeUndefined();
    expect(refused(hybrid, {})).toBeUndefined();
  });

  it('on a hybrid host, names the controller bound to cgroup v1 and the kernel command line that fixes it', () => {
    expect(refused(hybrid, { memory: 1 << 25 })).toEqual({
      message:
        'cannot enforce --memory (cgroup v2 memory controller): this host binds memory to cgroup v1; its cgroup v2 hierarchy at /sys/fs/cgroup/unified cannot have it (a v1/v2 hybrid layout)',
      hint: 'boot with systemd.unified_cgroup_hierarchy=1 on the kernel command line to get cgroup v2 controllers',
      exitCode: 125,
    });
    expect(refused(hybrid, { memory: 1 << 25, pidsLimit: 20, blkioWeight: 100 })?.message).toBe(
      'cannot enforce --memory, --pids-limit, --blkio-weight (cgroup v2 memory, pids and io controllers): this host binds memory, pids and blkio to cgroup v1; its cgroup v2 hierarchy at /sys/fs/cgroup/unified cannot have them (a v1/v2 hybrid layout)',
    );
  });

  it('on a cgroup v1 host, asks for the unified hierarchy', () => {
    const v1: CgroupFacts = { ...hybrid, layout: 'v1', v2Mount: null, v2Dir: null, v2Path: null, delegated: false };
    expect(refused(v1, { cpus: 1 })).toMatchObject({
      message:
        'cannot enforce --cpus (cgroup v2 cpu controller): this host has cgroup v1 only (blkio cpu cpuacct cpuset devices freezer memory pids)',
      hint: expect.stringMatching(/systemd\.unified_cgroup_hierarchy=1/),
    });
  });

  it('without delegation, points at Delegate=, or at a scope when the delegated subtree is elsewhere', () => {
    const session = '/sys/fs/cgroup/user.slice/user-1000.slice/session-2.scope';
    const notDelegated: CgroupFacts = {
      ...delegatedV2,
      v2Dir: session,
      delegated: false,
      delegationRoot: null,
      v2DirOwner: 0,
    };
    expect(refused(notDelegated, { pidsLimit: 5 })).toMatchObject({
      message: `cannot enforce --pids-limit (cgroup v2 pids controller): no cgroup v2 subtree is delegated to you (${session} belongs to uid 0)`,
      hint: expect.stringMatching(/Delegate=yes/),
    });
    expect(refused({ ...notDelegated, v2Dir: `${USER}/x`, delegatedAncestor: USER }, { pidsLimit: 5 })).toMatchObject({
      message: `cannot enforce --pids-limit (cgroup v2 pids controller): hutch runs in ${USER}/x, which is not yours, though ${USER} is delegated to you`,
      hint: 'start hutch inside your delegated subtree: systemd-run --user --scope hutch …',
    });
  });

  it('names a controller the delegated subtree is not given, and one the kernel does not have', () => {
    expect(
      refused(delegatedV2, { deviceReadBps: [{ device: '/dev/sda', rate: 1 }] }, ['cpu', 'io', 'memory', 'pids']),
    ).toMatchObject({
      message: `cannot enforce --device-read-bps (cgroup v2 io controller): your delegated cgroup ${USER} is not given io (it has: cpu memory pids)`,
      hint: expect.stringMatching(/Delegate=cpu cpuset io memory pids.*echo \+io > /),
    });
    expect(refused(delegatedV2, { cpusetCpus: '0' }, ['cpu', 'io', 'memory', 'pids'])).toMatchObject({
      message:
        'cannot enforce --cpuset-cpus (cgroup v2 cpuset controller): this kernel has no cpuset controller (it offers cpu io memory pids)',
    });
  });
});
