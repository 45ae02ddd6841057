/**
 * A container's network as the container code uses it, for a container in the
 * store and for a build step's short-lived one alike: the context the drivers
 * need (ids and directories, no name lookup unless --network container:NAME),
 * the request a container made before networking existed, and an attach that
 * never leaves a container running without the network it asked for.
 */
import { HutchError } from '../../errors.js';
import type { AttachContext, ContainerLookup, EtcContext, NetworkState } from './contract.js';
import { signalHelper, startTimeOf, waitGone } from './helper.js';
import { attachNetwork } from './drivers.js';
import type { NetworkRequest } from './request.js';

/** Everything etcContents, namespaceFor and attachNetwork need, but the process. */
export type ContainerNetworkContext = EtcContext & Omit<AttachContext, 'pid'>;

export interface ContainerIdentity {
  id: string;
  /** Its name (an alias in /etc/hosts); a build step gives its hostname. */
  name: string;
  hostname: string;
  /** Where the helper's log and pid files go (the container's runtime directory). */
  runtimeDir: string;
  /** The file bind-mounted at /etc/hosts (a user-defined network rewrites it in place). */
  hostsFile: string;
}

/** For containers outside the store (build steps): --network container:NAME has nothing to look up. */
export const noContainers: ContainerLookup = {
  find(nameOrId) {
    throw new HutchError(`--network container:${nameOrId} is not available here: there are no containers to join`, {
      hint: 'use slirp4netns, pasta, none or host',
    });
  },
};

export function containerNetworkContext(
  container: ContainerIdentity,
  paths: { storage: string; runtime: string },
  containers: ContainerLookup = noContainers,
): ContainerNetworkContext {
  return {
    containerId: container.id,
    name: container.name,
    hostname: container.hostname,
    runtimeDir: container.runtimeDir,
    hostsFile: container.hostsFile,
    storage: paths.storage,
    runtime: paths.runtime,
    containers,
  };
}

/** The request a container keeps; one created before networking has only --network none or host. */
export function storedRequest(options: { network: string; networkRequest?: NetworkRequest }): NetworkRequest {
  if (options.networkRequest !== undefined) return options.networkRequest;
  return {
    mode: options.network === 'host' ? 'host' : 'none',
    options: {},
    pastaArgs: [],
    publish: [],
    publishAll: false,
    dns: [],
    dnsSearch: [],
    addHost: [],
  };
}

/**
 * attachNetwork for a container process that waits before its first
 * instruction (the plan's WaitParent). When the attach fails, the process is
 * killed (SIGKILL: as pid 1 of its pid namespace it ignores other signals
 * from here) and gone before the error is thrown, so it never runs without
 * its network; its monitor then records the exit and runs the cleanup.
 */
export async function attachWaitingContainer(
  request: NetworkRequest,
  ctx: ContainerNetworkContext,
  pid: number,
): Promise<NetworkState> {
  try {
    return await attachNetwork(request, { ...ctx, pid });
  } catch (error) {
    const startTime = startTimeOf(pid);
    if (startTime !== undefined && signalHelper({ pid, startTime }, 9)) await waitGone({ pid, startTime }, 5000);
    throw error;
  }
}
