/**
 * The fuse-overlayfs driver: overlayfs in user space (containers/fuse-overlayfs),
 * for kernels or file systems where the kernel's overlayfs cannot be mounted
 * in a user namespace. The program mounts through /dev/fuse and then serves
 * the mount as a daemon (it detaches itself once the mount is ready), in the
 * mount namespace node runs in. Inside the session node is root of the user
 * namespace, so no uidmapping/gidmapping options are needed: the layers'
 * owners are already the namespace's own.
 */
import { spawn } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, SyscallError } from '../../errors.js';
import { findOnPath } from '../../host/idmap.js';
import { deviceAccess, versionLine } from '../../host/tools.js';
import {
  emptyLower,
  FUSE_OVERLAYFS_FIX,
  type RootfsCheck,
  type RootfsDriver,
  type RootfsHost,
  type RootfsLayout,
  type RootfsMountOptions,
} from './index.js';
import { layerLink, unmountTarget } from './overlay.js';

async function probeFuseOverlayfs(host: RootfsHost): Promise<RootfsCheck> {
  const path = findOnPath('fuse-overlayfs', host.pathVar);
  if (path === undefined) return { ok: false, detail: 'fuse-overlayfs not found on PATH', fix: FUSE_OVERLAYFS_FIX };
  const version = await versionLine(path, 'fuse-overlayfs');
  const fuse = deviceAccess('/dev/fuse');
  if (!fuse.ok) {
    return {
      ok: false,
      detail: `${version} at ${path}, but ${fuse.detail}`,
      fix: fuse.detail.endsWith('does not exist')
        ? 'as root: modprobe fuse'
        : 'as root: chmod 666 /dev/fuse (to keep it: a udev rule KERNEL=="fuse", MODE="0666")',
    };
  }
  return { ok: true, detail: `${version} at ${path}` };
}

/** fuse's -o parser splits at ',' (a backslash escapes one); fuse-overlayfs splits lowerdir at ':'. */
function optionPath(path: string, what: string): string {
  if (path.includes(':')) throw new HutchError(`fuse-overlayfs cannot use ${what} ${path}: it contains a colon`);
  return path.replace(/[\\,]/g, (c) => `\\${c}`);
}

/** The -o argument of fuse-overlayfs for layout (top layer first, as overlayfs). */
export function fuseOverlayfsOptions(layout: RootfsLayout, options: RootfsMountOptions): string {
  const lowers = layout.lowers.length === 0 ? [emptyLower(layout)] : layout.lowers;
  const named = lowers.map((lower) => {
    const link = layerLink(lower);
    return optionPath(link === undefined ? lower : join(link.layersDir, link.name), 'the layer');
  });
  const parts = [
    `lowerdir=${named.reverse().join(':')}`,
    `upperdir=${optionPath(layout.upper, 'the upper directory')}`,
    `workdir=${optionPath(layout.work, 'the work directory')}`,
  ];
  if (options.readonly === true) parts.push('ro');
  return parts.join(',');
}

async function mountFuseOverlayfs(layout: RootfsLayout, options: RootfsMountOptions): Promise<void> {
  const program = findOnPath('fuse-overlayfs', process.env.PATH);
  if (program === undefined) {
    throw new HutchError('fuse-overlayfs not found on PATH', { hint: FUSE_OVERLAYFS_FIX });
  }
  for (const dir of [layout.upper, layout.work, layout.target]) mkdirSync(dir, { recursive: true, mode: 0o755 });
  const args = ['-o', fuseOverlayfsOptions(layout, options), layout.target];
  // The program returns once the mount is ready and leaves a daemon serving it (in its own session).
  const { code, signal, stderr } = await new Promise<{ code: number | null; signal: string | null; stderr: string }>(
    (resolve, reject) => {
      const child = spawn(program, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
      let text = '';
      child.stderr.setEncoding('utf8');
      child.stderr.on('data', (chunk: string) => {
        if (text.length < 4096) text += chunk;
      });
      child.on('error', reject);
      // 'exit', not 'close': the daemon may keep the stderr pipe open.
      child.on('exit', (exitCode, exitSignal) => {
        child.stderr.destroy();
        child.unref();
        resolve({ code: exitCode, signal: exitSignal, stderr: text });
      });
    },
  );
  if (code !== 0) {
    const line = stderr
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '');
    const how = signal !== null ? `was killed by ${signal}` : `exited with status ${code}`;
    throw new HutchError(
      `mount the container's root file system (fuse-overlayfs) at ${layout.target}: fuse-overlayfs ${how}${line === undefined ? '' : `: ${line}`}`,
    );
  }
}

/** umount2 as root of the namespace that owns the mount; fusermount3 -u where that is refused. */
async function unmountFuseOverlayfs(target: string): Promise<void> {
  try {
    await unmountTarget(target);
  } catch (error) {
    if (!(error instanceof SyscallError && error.code === 'EPERM')) throw error;
    const fusermount = findOnPath('fusermount3', process.env.PATH) ?? findOnPath('fusermount', process.env.PATH);
    if (fusermount === undefined) throw error;
    const status = await new Promise<number | null>((resolve, reject) => {
      const child = spawn(fusermount, ['-u', target], { stdio: 'ignore' });
      child.on('error', reject);
      child.on('exit', (c) => resolve(c));
    });
    if (status !== 0) throw error;
  }
}

export const fuseOverlayfsDriver: RootfsDriver = {
  name: 'fuse-overlayfs',
  probe: probeFuseOverlayfs,
  mount: mountFuseOverlayfs,
  unmount: unmountFuseOverlayfs,
};
