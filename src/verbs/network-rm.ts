/** `hutch network rm [-f] NAME…`: returns the names removed. */
import { HutchError } from '../errors.js';
import { openRuntime, removeContainer, type Runtime } from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';
import { storedRequest } from '../run/network/attachment.js';
import { stopNetworkNow } from '../run/network/bridge.js';
import { deleteNetwork, findNetwork } from '../run/network/networks.js';

/** The containers created with --network NAME. */
export function usersOf(rt: Runtime, name: string): Container[] {
  return rt.containers.list().filter((c) => {
    const request = storedRequest(c.config.options);
    return request.mode === 'network' && request.target === name;
  });
}

/**
 * Removes networks. A network containers were created with is refused
 * without force; with force those containers are removed first (podman's -f).
 */
export async function networkRemove(names: string[], options: { force: boolean }): Promise<string[]> {
  const rt = await openRuntime();
  const removed: string[] = [];
  for (const nameOrId of names) {
    const config = findNetwork(rt.paths.storage, nameOrId);
    const users = usersOf(rt, config.name);
    if (users.length > 0 && !options.force) {
      throw new HutchError(
        `"${config.name}" has associated containers with it. Use -f to forcibly delete containers and pods: network is being used`,
        { hint: `containers: ${users.map((c) => c.config.name).join(', ')}` },
      );
    }
    if (users.length > 0) {
      for (const user of users) await removeContainer(rt, user, { force: true, volumes: false });
    }
    await stopNetworkNow(rt.paths.runtime, config.name);
    await deleteNetwork(rt.paths.storage, config.name);
    removed.push(config.name);
  }
  return removed;
}
