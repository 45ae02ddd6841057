/**
 * The ways a container gets a network, in order of preference: a user-mode
 * network stack attached to a tap device in the container's namespace
 * (slirp4netns, pasta), or none (loopback only). `hutch info` lists these with
 * the same check a run makes (tap.ts); a run without --network uses
 * slirp4netns (DEFAULT_NETWORK_MODE) and says so when it is not usable.
 */
import { versionLine } from '../../host/tools.js';
import { checkTapHelper, type NetworkHost } from './tap.js';

export type { NetworkHost } from './tap.js';

export interface NetworkCheck {
  ok: boolean;
  detail: string;
  fix?: string;
}

export type NetworkDriverName = 'slirp4netns' | 'pasta' | 'none';

export interface NetworkDriver {
  name: NetworkDriverName;
  probe(host: NetworkHost): Promise<NetworkCheck>;
}

/** A user-mode stack: the program on PATH and a tap device to attach to. */
async function probeTapHelper(program: string, debianPackage: string, host: NetworkHost): Promise<NetworkCheck> {
  const check = checkTapHelper(program, debianPackage, host);
  if (check.path === undefined) return { ok: false, detail: check.problem, ...(check.fix ? { fix: check.fix } : {}) };
  const version = await versionLine(check.path, program);
  if (!check.ok) return { ok: false, detail: `${version} at ${check.path}, but ${check.problem}`, fix: check.fix };
  return { ok: true, detail: `${version} at ${check.path}` };
}

/** In order of preference; the first whose probe is ok is used. */
export const networkDrivers: readonly NetworkDriver[] = [
  { name: 'slirp4netns', probe: (host) => probeTapHelper('slirp4netns', 'slirp4netns', host) },
  { name: 'pasta', probe: (host) => probeTapHelper('pasta', 'passt', host) },
  { name: 'none', probe: async () => ({ ok: true, detail: 'loopback only: containers reach no other host' }) },
];

export interface NetworkReport {
  drivers: ({ name: NetworkDriverName } & NetworkCheck)[];
  /** The first usable driver. */
  selected: NetworkDriverName;
  /** What `hutch run` without --network uses (it fails when that is not usable). */
  default: NetworkDriverName;
}

export async function probeNetwork(host: NetworkHost): Promise<NetworkReport> {
  const drivers = await Promise.all(networkDrivers.map(async (d) => ({ name: d.name, ...(await d.probe(host)) })));
  return { drivers, selected: drivers.find((d) => d.ok)?.name ?? 'none', default: DEFAULT_NETWORK_MODE };
}

/**
 * What a run without --network uses, as podman's rootless default: never a
 * silent fallback to another mode, so a host without slirp4netns gets an error
 * that names the package (and --network none), not a container without a
 * network.
 */
export const DEFAULT_NETWORK_MODE = 'slirp4netns';
