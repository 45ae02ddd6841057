/**
 * The defaults every container gets, and the lists of mount points that commit
 * and a build step leave out of a layer: they must hold every mount point
 * prepareRootfs makes for the defaults, so that neither can drift from it.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MOUNT_POINTS } from '../../src/build/workspace.js';
import { mountPoints } from '../../src/run/container/commit.js';
import {
  DEFAULT_MOUNT_POINTS,
  defaultDevices,
  defaultMaskedPaths,
  defaultReadonlyPaths,
  INIT_PATH,
} from '../../src/run/container/mount-defaults.js';
import { prepareRootfs } from '../../src/run/container/mount-prepare.js';
import type { ContainerSpec } from '../../src/run/container/spec.js';
import type { Container } from '../../src/run/container/store.js';

const scratchDirs: string[] = [];
function scratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  scratchDirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const dir of scratchDirs) rmSync(dir, { recursive: true, force: true });
});

/** The mount points prepareRootfs made in an empty rootfs for a default container with --init. */
function madeByPrepare(): string[] {
  const etc = scratch('hutch-etc-');
  for (const f of ['hosts', 'hostname', 'resolv.conf']) writeFileSync(join(etc, f), '');
  const init = join(etc, 'init');
  writeFileSync(init, '');
  const spec = {
    rootfs: scratch('hutch-rootfs-'),
    etcFiles: { hosts: join(etc, 'hosts'), hostname: join(etc, 'hostname'), resolvConf: join(etc, 'resolv.conf') },
    mounts: [],
    devices: [...defaultDevices],
    maskedPaths: [...defaultMaskedPaths],
    readonlyPaths: [...defaultReadonlyPaths],
    network: { mode: 'new' },
    userNamespace: { uidMap: [], gidMap: [{ inside: 0, outside: 0, count: 65536 }] },
    init,
    process: { cwd: '/' },
  } as unknown as ContainerSpec;
  const prepared = prepareRootfs(spec, { cgroupNamespace: true, privateIpc: true });
  // The directories the child makes in its own tmpfs (/dev/pts…) and the devices bound there.
  const inDev = [
    prepared.devpts.target,
    prepared.shm,
    prepared.mqueue?.target,
    ...prepared.devices.map((d) => d.target),
  ]
    .flatMap((t) => t?.make ?? [])
    .map((m) => m.path.slice(prepared.root.length));
  // /etc and /run: parents of mount points, made when the image has none.
  return [...prepared.created.filter((p) => p !== '/etc' && p !== '/run'), ...inDev, '/sys/fs/cgroup'];
}

describe('the default mount points', () => {
  it('are the ones prepareRootfs makes, and no more', () => {
    const made = madeByPrepare();
    expect([...made].sort()).toEqual([...DEFAULT_MOUNT_POINTS, INIT_PATH].sort());
  });

  it('are left out of a layer by commit and by a build step', () => {
    const made = madeByPrepare();
    const committed = mountPoints({ config: { options: { mounts: [] } } } as unknown as Container);
    expect(committed).toEqual(expect.arrayContaining(made));
    expect(MOUNT_POINTS).toEqual(expect.arrayContaining(made.filter((p) => p !== INIT_PATH)));
  });

  it('are what commit and build left out before they shared the list', () => {
    expect(mountPoints({ config: { options: { mounts: [] } } } as unknown as Container).sort()).toEqual(
      [
        '/etc/hosts',
        '/etc/hostname',
        '/etc/resolv.conf',
        '/proc',
        '/sys',
        '/sys/fs/cgroup',
        '/dev',
        '/dev/pts',
        '/dev/shm',
        '/dev/mqueue',
        '/run',
        '/run/hutch-init',
        '/dev/null',
        '/dev/zero',
        '/dev/full',
        '/dev/random',
        '/dev/urandom',
        '/dev/tty',
      ].sort(),
    );
    expect(MOUNT_POINTS).toEqual([
      '/etc/hosts',
      '/etc/hostname',
      '/etc/resolv.conf',
      '/proc',
      '/sys',
      '/sys/fs/cgroup',
      '/dev',
      '/dev/pts',
      '/dev/shm',
      '/dev/mqueue',
      '/dev/null',
      '/dev/zero',
      '/dev/full',
      '/dev/random',
      '/dev/urandom',
      '/dev/tty',
      '/dev/console',
      '/dev/ptmx',
      '/dev/pipes',
      '/run',
    ]);
  });
});
