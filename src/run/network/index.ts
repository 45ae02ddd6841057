/**
 * A container's network, for the container code: the request (from flags),
 * the namespace its plan gets, its /etc/hosts and /etc/resolv.conf, and the
 * attach after its process exists (before it is let go) and detach at
 * cleanup. Each mode is one driver module; see docs/networking.md.
 *
 *   parseNetworkRequest(flags, exposed)     at create: everything checked, exit 125
 *   namespaceFor(request, ctx)              spec: new, host, or join PATH
 *   etcContents(request, ctx)               the lead writes them to userdata/
 *   attachNetwork(request, ctx) → state     after startMonitor, before go()
 *   detachNetwork(state)                    cleanup and rm; idempotent
 */
import { readFileSync } from 'node:fs';
import { HutchError, withContext } from '../../errors.js';
import { bridgeDriver } from './bridge.js';
import { containerDriver } from './container.js';
import type {
  AttachContext,
  EtcContext,
  HostFiles,
  ModeDriver,
  NamespaceContext,
  NetworkNamespace,
  NetworkState,
} from './driver.js';
import { hostDriver } from './host.js';
import { noneDriver } from './none.js';
import { pastaDriver } from './pasta.js';
import type { NetworkMode, NetworkRequest } from './request.js';
import { slirpDriver } from './slirp4netns.js';

export type {
  AttachContext,
  ContainerLookup,
  EtcContext,
  NamespaceContext,
  NetworkNamespace,
  NetworkState,
} from './driver.js';
export type { PortMapping, PublishedPort } from './ports.js';
export { formatPort } from './ports.js';
export type { NetworkFlags, NetworkMode, NetworkRequest } from './request.js';
export { currentRequestHost, describeMode, parseNetworkRequest } from './request.js';

const drivers: Record<NetworkMode, ModeDriver> = {
  slirp4netns: slirpDriver,
  pasta: pastaDriver,
  none: noneDriver,
  host: hostDriver,
  container: containerDriver,
  network: bridgeDriver,
};

function driverOf(mode: NetworkMode): ModeDriver {
  const driver = drivers[mode];
  if (driver === undefined) throw new HutchError(`unknown network mode ${JSON.stringify(mode)}`);
  return driver;
}

function readHost(path: '/etc/hosts' | '/etc/resolv.conf'): string | undefined {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return undefined;
  }
}

function hostFiles(ctx: EtcContext): HostFiles {
  const read = ctx.readHostFile ?? readHost;
  return { hosts: read('/etc/hosts') ?? '', resolvConf: read('/etc/resolv.conf') ?? '' };
}

/** The network namespace the container's plan gets: a new one, the host's, or another container's. */
export function namespaceFor(request: NetworkRequest, ctx: NamespaceContext): NetworkNamespace {
  return driverOf(request.mode).namespace(request, ctx);
}

/** The text of the container's /etc/hosts and /etc/resolv.conf (--network NAME: rewritten at attach). */
export function etcContents(request: NetworkRequest, ctx: EtcContext): { hosts: string; resolvConf: string } {
  return driverOf(request.mode).etc(request, ctx, hostFiles(ctx));
}

/**
 * Gives the container's network namespace its network: starts its helper,
 * forwards its ports, joins its network. Runs in the session (root of its user
 * namespace, in the host's network namespace). On failure nothing it started
 * is left running, and the error says what and why (HutchError, exit 125).
 */
export async function attachNetwork(request: NetworkRequest, ctx: AttachContext): Promise<NetworkState> {
  try {
    return await driverOf(request.mode).attach(request, ctx);
  } catch (error) {
    if (error instanceof HutchError) throw error;
    throw withContext('network', `attach the ${request.mode} network`, error);
  }
}

/**
 * Undoes attachNetwork: stops the container's helper (pidfd, after its start
 * time is checked), releases its ports, leaves its network (the other members'
 * /etc/hosts are updated). Idempotent: what is gone already is skipped.
 */
export async function detachNetwork(state: NetworkState): Promise<void> {
  await driverOf(state.mode).detach(state);
}
