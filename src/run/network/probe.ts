/**
 * The ways a container gets a network, in order of preference: a user-mode
 * network stack attached to a tap device in the container's namespace
 * (slirp4netns, pasta), or none (loopback only).
 */
import { findOnPath } from '../idmap.js';
import { deviceAccess, versionLine } from '../tools.js';

export interface NetworkCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

export interface NetworkHost {
  /** $PATH, to find the helper programs. */
  pathVar: string | undefined;
}

export type NetworkDriverName = 'slirp4netns' | 'pasta' | 'none';

export interface NetworkDriver {
  name: NetworkDriverName;
  probe(host: NetworkHost): Promise<NetworkCheck>;
}

const TUN = '/dev/net/tun';

/** A user-mode stack: the program on PATH and a tap device to attach to. */
async function probeTapHelper(program: string, debianPackage: string, host: NetworkHost): Promise<NetworkCheck> {
  const path = findOnPath(program, host.pathVar);
  if (path === undefined) {
    return {
      ok: false,
      detail: `${program} not found on PATH`,
      fix: `install ${debianPackage} (Debian/Ubuntu: sudo apt-get install ${debianPackage})`,
    };
  }
  const version = await versionLine(path, program);
  const tun = deviceAccess(TUN);
  if (!tun.ok) {
    return {
      ok: false,
      detail: `${version} at ${path}, but ${tun.detail}`,
      fix: tun.detail.endsWith('does not exist')
        ? 'as root: modprobe tun'
        : `as root: chmod 666 ${TUN} (to keep it: a udev rule KERNEL=="tun", MODE="0666")`,
    };
  }
  return { ok: true, detail: `${version} at ${path}` };
}

/** In order of preference; the first whose probe is ok is used. */
export const networkDrivers: readonly NetworkDriver[] = [
  { name: 'slirp4netns', probe: (host) => probeTapHelper('slirp4netns', 'slirp4netns', host) },
  { name: 'pasta', probe: (host) => probeTapHelper('pasta', 'passt', host) },
  { name: 'none', probe: async () => ({ ok: true, detail: 'loopback only: containers reach no other host' }) },
];

export interface NetworkReport {
  drivers: ({ name: NetworkDriverName } & NetworkCheck)[];
  selected: NetworkDriverName;
}

export async function probeNetwork(host: NetworkHost): Promise<NetworkReport> {
  const drivers = await Promise.all(networkDrivers.map(async (d) => ({ name: d.name, ...(await d.probe(host)) })));
  return { drivers, selected: drivers.find((d) => d.ok)?.name ?? 'none' };
}
