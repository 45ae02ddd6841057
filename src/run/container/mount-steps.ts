/**
 * The second half of a container's mounts: mountSteps(plan, spec, prepared)
 * appends the steps the container's child runs after clone(CLONE_NEWNS), in
 * runc's order (libcontainer/rootfs_linux.go): / made rslave, the rootfs bound
 * onto itself, /proc, /dev (tmpfs, devices, links, devpts, shm, mqueue), /sys
 * and /sys/fs/cgroup, the /etc files, volumes and tmpfs in the order given,
 * the init binary, read-only paths, masked paths, a read-only root, then
 * pivot_root(".", ".") and the old root detached. The child runs raw system
 * calls only, so every path here is final: prepareRootfs (mount-prepare.ts)
 * resolved them.
 */
import { MNT_DETACH, Mount, type Plan } from '../../host/plan.js';
import { PROC_FLAGS, SHM_DATA, SYSFS_FLAGS, TMPFS_DEV_DATA } from './mount-defaults.js';
import { LOCKABLE, type PreparedRootfs, type Target } from './mount-prepare.js';
import type { ContainerSpec } from './spec.js';

const MS_SHARED = 1 << 20;
const MS_UNBINDABLE = 1 << 17;

const S_IFREG = 0o100000;

function makeTarget(plan: Plan, target: Target): void {
  for (const m of target.make) {
    if (m.kind === 'directory') plan.mkdir(m.path, 0o755, { ignoreExists: true });
    else plan.mknod(m.path, S_IFREG | 0o644, 0, { ignoreExists: true });
  }
}

/** A bind mount, then the remount that applies ro/nosuid/nodev/noexec (binds ignore them: mount(2)). */
function bind(
  plan: Plan,
  source: string,
  target: Target,
  options: { recursive: boolean; flags: number; locked: number },
): void {
  makeTarget(plan, target);
  plan.mount(source, target.path, null, Mount.BIND | (options.recursive ? Mount.REC : 0));
  if ((options.flags & LOCKABLE) !== 0) {
    plan.mount(null, target.path, null, Mount.BIND | Mount.REMOUNT | options.flags | options.locked);
  }
}

function optionFlags(options: readonly ('nosuid' | 'nodev' | 'noexec')[], readonly: boolean): number {
  let flags = readonly ? Mount.RDONLY : 0;
  if (options.includes('nosuid')) flags |= Mount.NOSUID;
  if (options.includes('nodev')) flags |= Mount.NODEV;
  if (options.includes('noexec')) flags |= Mount.NOEXEC;
  return flags;
}

const PROPAGATION: Record<string, number> = {
  private: Mount.PRIVATE,
  rprivate: Mount.PRIVATE | Mount.REC,
  shared: MS_SHARED,
  rshared: MS_SHARED | Mount.REC,
  slave: Mount.SLAVE,
  rslave: Mount.SLAVE | Mount.REC,
  unbindable: MS_UNBINDABLE,
  runbindable: MS_UNBINDABLE | Mount.REC,
};

/**
 * Appends the child's mount steps (it must have been cloned with
 * CLONE_NEWNS, and for /proc and sysfs with its own pid and network
 * namespaces) and ends with pivot_root into the rootfs, cwd "/". prepared is
 * prepareRootfs(spec)'s result.
 */
export function mountSteps(plan: Plan, spec: ContainerSpec, prepared: PreparedRootfs): void {
  const root = prepared.root;
  // Nothing the container mounts may propagate back to the session (runc's rootfsPropagation).
  plan.mount(null, '/', null, Mount.REC | Mount.SLAVE);
  // pivot_root(2) needs the new root to be a mount point; the copy driver's is a plain directory.
  plan.mount(root, root, null, Mount.BIND | Mount.REC);

  plan.mount('proc', prepared.proc.path, 'proc', PROC_FLAGS);

  plan.mount('tmpfs', prepared.dev.path, 'tmpfs', Mount.NOSUID | Mount.STRICTATIME, TMPFS_DEV_DATA);
  makeTarget(plan, prepared.devpts.target);
  const gid = prepared.devpts.gid === undefined ? '' : `,gid=${prepared.devpts.gid}`;
  plan.mount(
    'devpts',
    prepared.devpts.target.path,
    'devpts',
    Mount.NOSUID | Mount.NOEXEC,
    `newinstance,ptmxmode=0666,mode=0620${gid}`,
  );
  if (prepared.shm !== undefined) {
    makeTarget(plan, prepared.shm);
    plan.mount('shm', prepared.shm.path, 'tmpfs', Mount.NOSUID | Mount.NODEV | Mount.NOEXEC, SHM_DATA);
  }
  if (prepared.mqueue !== undefined) {
    makeTarget(plan, prepared.mqueue.target);
    if (prepared.mqueue.mode === 'mqueue') {
      plan.mount('mqueue', prepared.mqueue.target.path, 'mqueue', Mount.NOSUID | Mount.NODEV | Mount.NOEXEC);
    } else {
      plan.mount('/dev/mqueue', prepared.mqueue.target.path, null, Mount.BIND | Mount.REC);
    }
  }
  for (const device of prepared.devices)
    bind(plan, device.source, device.target, { recursive: false, flags: 0, locked: 0 });
  for (const link of prepared.devLinks) plan.symlink(link.target, link.path, { ignoreExists: true });

  if (prepared.sys.mode === 'sysfs') {
    plan.mount('sysfs', prepared.sys.target.path, 'sysfs', SYSFS_FLAGS);
  } else {
    plan.mount('/sys', prepared.sys.target.path, null, Mount.BIND | Mount.REC);
    plan.mount(null, prepared.sys.target.path, null, Mount.BIND | Mount.REMOUNT | SYSFS_FLAGS);
  }
  const cgroup = prepared.cgroup;
  if (cgroup.mode === 'cgroup2') {
    plan.mount('cgroup2', cgroup.target.path, 'cgroup2', SYSFS_FLAGS);
  } else if (cgroup.mode === 'bind') {
    plan.mount('/sys/fs/cgroup', cgroup.target.path, null, Mount.BIND | Mount.REC);
    plan.mount(null, cgroup.target.path, null, Mount.BIND | Mount.REMOUNT | SYSFS_FLAGS);
  }
  // A remount applies to one mount: each one a recursive bind copied is made read-only too.
  for (const sub of prepared.readonlySubmounts) {
    plan.mount(null, sub.path, null, Mount.BIND | Mount.REMOUNT | Mount.RDONLY | sub.locked);
  }

  for (const file of prepared.etcFiles)
    bind(plan, file.source, file.target, { recursive: false, flags: 0, locked: file.locked });

  for (const m of prepared.mounts) {
    const flags = optionFlags(m.spec.options, m.spec.readonly);
    if (m.spec.type === 'tmpfs') {
      makeTarget(plan, m.target);
      plan.mount('tmpfs', m.target.path, 'tmpfs', flags, m.spec.data.length > 0 ? m.spec.data.join(',') : null);
      continue;
    }
    bind(plan, m.source, m.target, { recursive: m.spec.recursive, flags, locked: m.locked });
    const propagation = (m.spec as { propagation?: string }).propagation;
    if (propagation !== undefined && PROPAGATION[propagation] !== undefined) {
      plan.mount(null, m.target.path, null, PROPAGATION[propagation] as number);
    }
  }

  if (prepared.init !== undefined) {
    bind(plan, prepared.init.source, prepared.init.target, {
      recursive: false,
      flags: Mount.RDONLY,
      locked: prepared.init.locked,
    });
  }

  // The working directory may be inside a tmpfs the child mounted: made there now.
  makeTarget(plan, prepared.cwd);

  for (const path of prepared.readonlyPaths) {
    plan.mount(path.path, path.path, null, Mount.BIND | Mount.REC);
    plan.mount(null, path.path, null, Mount.BIND | Mount.REMOUNT | Mount.RDONLY | path.locked);
  }
  for (const path of prepared.maskedPaths) {
    if (path.kind === 'directory') plan.mount('tmpfs', path.path, 'tmpfs', Mount.RDONLY, null);
    else plan.mount('/dev/null', path.path, null, Mount.BIND);
  }

  if (spec.readonlyRootfs) {
    plan.mount(null, root, null, Mount.BIND | Mount.REMOUNT | Mount.RDONLY | prepared.rootLocked);
  }

  // pivot_root(".", "."): the old root ends up stacked on the new one, and is detached
  // (pivot_root(2), NOTES); made rslave first so the unmount cannot reach the session.
  plan.chdir(root);
  plan.pivotRoot('.', '.');
  plan.mount(null, '.', null, Mount.SLAVE | Mount.REC);
  plan.umount('.', MNT_DETACH);
  plan.chdir('/');
}
