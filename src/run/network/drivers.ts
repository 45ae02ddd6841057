/** The driver of each network mode, and the attach every caller goes through. */
import { HutchError, withContext } from '../../errors.js';
import { bridgeDriver } from './bridge.js';
import { containerDriver } from './container.js';
import type { AttachContext, ModeDriver, NetworkState } from './contract.js';
import { hostDriver } from './host.js';
import { noneDriver } from './none.js';
import { pastaDriver } from './pasta.js';
import type { NetworkMode, NetworkRequest } from './request.js';
import { slirpDriver } from './slirp4netns.js';

const drivers: Record<NetworkMode, ModeDriver> = {
  slirp4netns: slirpDriver,
  pasta: pastaDriver,
  none: noneDriver,
  host: hostDriver,
  container: containerDriver,
  network: bridgeDriver,
};

export function driverOf(mode: NetworkMode): ModeDriver {
  const driver = drivers[mode];
  if (driver === undefined) throw new HutchError(`unknown network mode ${JSON.stringify(mode)}`);
  return driver;
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
