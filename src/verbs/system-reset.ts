/**
 * `hutch system reset`: every container (running ones killed first), network,
 * volume and image, the build cache and the store itself, as podman's reset
 * removes its graphRoot. The session (the user namespace holder, in the
 * runtime directory) stays: the next command uses it with an empty store.
 */
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { openRuntime, removeContainer } from '../run/container/lifecycle.js';
import { monitorAlive } from '../run/container/store.js';
import { stopNetworkNow } from '../run/network/bridge.js';
import { deleteNetwork, listNetworks } from '../run/network/networks.js';
import { listVolumes, removeVolume } from '../run/volumes.js';
import { ifExists } from '../fs/missing.js';
import { removeTree } from '../fs/remove-tree.js';

export interface ResetReport {
  containers: string[];
  /** `WHAT: why` for what could not be removed (the rest still is). */
  warnings: string[];
}

/** The directories reset removes, for its question. */
export async function resetTargets(env: NodeJS.ProcessEnv = process.env): Promise<{ storage: string }> {
  const runtime = await openRuntime(env);
  return { storage: runtime.paths.storage };
}

export async function systemReset(env: NodeJS.ProcessEnv = process.env): Promise<ResetReport> {
  const runtime = await openRuntime(env);
  const report: ResetReport = { containers: [], warnings: [] };
  const attempt = async (what: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (error) {
      report.warnings.push(`${what}: ${(error as Error).message}`);
    }
  };
  const containers = runtime.containers.list();
  for (const container of containers) {
    await attempt(container.config.name, async () => {
      await removeContainer(runtime, container, { force: true, volumes: true });
      report.containers.push(container.config.id);
    });
  }
  // A killed container's monitor still runs its cleanup, which opens the store: let it finish first.
  const deadline = Date.now() + 10_000;
  while (containers.some((c) => monitorAlive(c)) && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  const storage = runtime.paths.storage;
  for (const network of listNetworks(storage)) {
    await attempt(`network ${network.name}`, async () => {
      await stopNetworkNow(runtime.paths.runtime, network.name);
      await deleteNetwork(storage, network.name);
    });
  }
  for (const volume of listVolumes(storage)) {
    await attempt(`volume ${volume.Name}`, () => removeVolume(storage, volume.Name, { force: true }));
  }
  // Images, layers, the build cache and whatever else the store holds.
  for (const name of ifExists(() => readdirSync(storage)) ?? []) {
    await attempt(join(storage, name), () => Promise.resolve(removeTree(join(storage, name))));
  }
  return report;
}
