/** `hutch network prune`: removes the networks no container was created with; returns their names. */
import { openRuntime } from '../run/container/lifecycle.js';
import { stopNetworkNow } from '../run/network/bridge.js';
import { deleteNetwork, listNetworks } from '../run/network/networks.js';
import { usersOf } from './network-rm.js';

/** Networks no container was created with. */
export async function networkPrune(): Promise<string[]> {
  const rt = await openRuntime();
  const removed: string[] = [];
  for (const config of listNetworks(rt.paths.storage)) {
    if (usersOf(rt, config.name).length > 0) continue;
    await stopNetworkNow(rt.paths.runtime, config.name);
    await deleteNetwork(rt.paths.storage, config.name);
    removed.push(config.name);
  }
  return removed;
}
