/**
 * What a user-mode stack needs from the host: its program on PATH and a
 * read-write /dev/net/tun. Synchronous, so a run can choose its default
 * network with the same check `hutch info` reports (probe.ts adds versions).
 */
import { findOnPath } from '../../host/idmap.js';
import { deviceAccess } from '../../host/tools.js';

export interface NetworkHost {
  /** $PATH, to find the helper programs. */
  pathVar: string | undefined;
}

export interface TapCheck {
  ok: boolean;
  /** The program, when found. */
  path: string | undefined;
  /** Why it cannot be used (empty when ok). */
  problem: string;
  fix?: string;
}

export const TUN = '/dev/net/tun';

export function checkTapHelper(program: string, debianPackage: string, host: NetworkHost): TapCheck {
  const path = findOnPath(program, host.pathVar);
  if (path === undefined) {
    return {
      ok: false,
      path,
      problem: `${program} not found on PATH`,
      fix: `install ${debianPackage} (Debian/Ubuntu: sudo apt-get install ${debianPackage})`,
    };
  }
  const tun = deviceAccess(TUN);
  if (!tun.ok) {
    return {
      ok: false,
      path,
      problem: tun.detail,
      fix: tun.detail.endsWith('does not exist')
        ? 'as root: modprobe tun'
        : `as root: chmod 666 ${TUN} (to keep it: a udev rule KERNEL=="tun", MODE="0666")`,
    };
  }
  return { ok: true, path, problem: '' };
}
