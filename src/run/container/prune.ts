/**
 * `hutch container prune`, and what the container store tells other verbs:
 * which containers use an image (rmi refuses to delete it, or with -f removes
 * them first, as podman does) and which use a volume (volume rm, prune and
 * inspect's MountCount).
 */
import type { Digest } from '../../image/digest.js';
import { volumeMountpoint } from '../volumes.js';
import { openRuntime, removeContainer, type Runtime } from './lifecycle.js';
import type { Container } from './store.js';

/** Removes every container that is not running; returns their ids (podman prints them). */
export async function pruneContainers(env: NodeJS.ProcessEnv = process.env): Promise<string[]> {
  const runtime = await openRuntime(env);
  const removed: string[] = [];
  for (const container of runtime.containers.list()) {
    if (container.state.status === 'running') continue;
    // A container that started meanwhile is refused by removeContainer (no force): it stays.
    try {
      await removeContainer(runtime, container, { force: false, volumes: false });
      removed.push(container.config.id);
    } catch (error) {
      process.stderr.write(`warning: ${container.config.name}: ${(error as Error).message}\n`);
    }
  }
  return removed;
}

/** Whether the container mounts the volume (by its mount point, or as one it made). */
export function usesVolume(runtime: Runtime, container: Container, name: string): boolean {
  const mountpoint = volumeMountpoint(runtime.paths.storage, name);
  const { options } = container.config;
  return (
    options.createdVolumes.some((v) => v.name === name) ||
    options.mounts.some((m) => m.type === 'bind' && m.source === mountpoint)
  );
}

/** The ids of the containers that use each volume, as src/run/volumes.ts asks (VolumeUsers). */
export function volumeUsers(runtime: Runtime): (name: string) => string[] {
  const containers = runtime.containers.list();
  return (name) => containers.filter((c) => usesVolume(runtime, c, name)).map((c) => c.config.id);
}

/** Force-removes (killing if running) every container that uses the volume: `volume rm -f`. */
export async function removeVolumeUsers(runtime: Runtime, name: string): Promise<void> {
  for (const container of runtime.containers.list()) {
    if (usesVolume(runtime, container, name)) {
      await removeContainer(runtime, container, { force: true, volumes: false });
    }
  }
}

/** What rmi asks the container store (see RemoveOptions.inUse in src/verbs/rmi.ts). */
export interface ImageUsers {
  /** Ids of the containers made from the image. */
  usersOf(imageId: Digest): string[];
  /** Removes them (killing those that run). */
  removeUsers(imageId: Digest): Promise<void>;
}

export async function imageUsers(env: NodeJS.ProcessEnv = process.env): Promise<ImageUsers> {
  const runtime = await openRuntime(env);
  return {
    usersOf: (imageId) =>
      runtime.containers
        .list()
        .filter((c) => c.config.image.id === imageId)
        .map((c) => c.config.id),
    removeUsers: async (imageId) => {
      for (const container of runtime.containers.list()) {
        if (container.config.image.id === imageId) {
          await removeContainer(runtime, container, { force: true, volumes: false });
        }
      }
    },
  };
}
