/**
 * A container's network, for the container code: the request (from flags),
 * the namespace its plan gets, its /etc/hosts and /etc/resolv.conf, and the
 * attach after its process exists (before it is let go) and detach at
 * cleanup. Each mode is one driver module; see docs/network.md.
 *
 *   parseNetworkRequest(flags, exposed)     at create: everything checked, exit 125
 *   checkPortsFree(request.publish)         at create: a host port in use fails before a container exists
 *   containerNetworkContext(c, paths, cs)   ids and directories (attachment.ts)
 *   namespaceFor(request, ctx)              spec: new, host, or join PATH
 *   etcContents(request, ctx)               written to userdata/, bind-mounted at /etc
 *   attachWaitingContainer(request, ctx, pid) → state   after startMonitor and the id maps, before go()
 *   detachNetwork(state)                    cleanup and rm; idempotent
 */
import type { EtcContext, HostFiles, NamespaceContext, NetworkNamespace, NetworkState } from './contract.js';
import { driverOf } from './drivers.js';
import { readHostFiles } from './host-files.js';
import type { NetworkRequest } from './request.js';

export type {
  AttachContext,
  ContainerLookup,
  EtcContext,
  NamespaceContext,
  NetworkNamespace,
  NetworkState,
} from './contract.js';
export type { ContainerIdentity, ContainerNetworkContext } from './attachment.js';
export { attachWaitingContainer, containerNetworkContext, noContainers, storedRequest } from './attachment.js';
export type { PortMapping, PublishedPort } from './ports.js';
export { checkPortsFree, formatPort, portMap } from './ports.js';
export type { NetworkFlags, NetworkMode, NetworkRequest } from './request.js';
export { currentRequestHost, describeMode, parseNetworkRequest } from './request.js';

function hostFiles(ctx: EtcContext): HostFiles {
  return readHostFiles(ctx.readHostFile);
}

/** The network namespace the container's plan gets: a new one, the host's, or another container's. */
export function namespaceFor(request: NetworkRequest, ctx: NamespaceContext): NetworkNamespace {
  return driverOf(request.mode).namespace(request, ctx);
}

/** The text of the container's /etc/hosts and /etc/resolv.conf (--network NAME: rewritten at attach). */
export function etcContents(request: NetworkRequest, ctx: EtcContext): { hosts: string; resolvConf: string } {
  return driverOf(request.mode).etc(request, ctx, hostFiles(ctx));
}

export { attachNetwork } from './drivers.js';

/**
 * Undoes attachNetwork: stops the container's helper (pidfd, after its start
 * time is checked), releases its ports, leaves its network (the other members'
 * /etc/hosts are updated). Idempotent: what is gone already is skipped.
 */
export async function detachNetwork(state: NetworkState): Promise<void> {
  await driverOf(state.mode).detach(state);
}
