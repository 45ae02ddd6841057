/**
 * The ways a container gets a network, in order of preference: a user-mode
 * network stack attached to a tap device in the container's namespace
 * (slirp4netns, pasta), or none (loopback only). `hutch info` lists these, and
 * a run without --network takes the first that is usable (defaultNetworkMode),
 * through the same check.
 */
import { versionLine } from '../tools.js';
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
  selected: NetworkDriverName;
}

export async function probeNetwork(host: NetworkHost): Promise<NetworkReport> {
  const drivers = await Promise.all(networkDrivers.map(async (d) => ({ name: d.name, ...(await d.probe(host)) })));
  return { drivers, selected: drivers.find((d) => d.ok)?.name ?? 'none' };
}

/** What a run without --network uses: the first driver `hutch info` would select. */
export function defaultNetworkMode(host: NetworkHost): NetworkDriverName {
  if (checkTapHelper('slirp4netns', 'slirp4netns', host).ok) return 'slirp4netns';
  if (checkTapHelper('pasta', 'passt', host).ok) return 'pasta';
  return 'none';
}
