/**
 * `hutch system df`: what images, containers and volumes take on disk, as
 * podman reports it: an image per name (its size, the part it shares with
 * other images, the containers using it), each container's writable layer,
 * each volume with the containers using it. src/cli sums and renders.
 */
import { join } from 'node:path';
import type { Digest } from '../image/digest.js';
import type { ResolvedImage } from '../image/store/resolve.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { imageUsers, volumeUsers } from '../run/container/users.js';
import { listVolumes, volumeMountpoint, volumesDir } from '../run/volumes.js';
import { treeSize } from '../fs/tree-size.js';

export interface ImageUsage {
  image: ResolvedImage;
  /** The row's name (podman lists an image once per name, <none> when it has none). */
  name: string | undefined;
  size: number;
  /** Bytes of its layers some other image has too. */
  sharedSize: number;
  containers: number;
}

export interface ContainerUsage {
  id: string;
  name: string;
  imageId: Digest;
  command: string[];
  /** Volumes it mounts. */
  localVolumes: number;
  /** Its writable layer. */
  size: number;
  created: Date;
  status: string;
}

export interface VolumeUsage {
  name: string;
  /** Containers using it. */
  links: number;
  size: number;
}

export interface DiskUsage {
  images: ImageUsage[];
  containers: ContainerUsage[];
  volumes: VolumeUsage[];
}

export async function diskUsage(env: NodeJS.ProcessEnv = process.env): Promise<DiskUsage> {
  const runtime = await openRuntime(env);
  const images = runtime.images.listImages();
  const users = await imageUsers(env);
  const layerSize = (image: ResolvedImage, i: number): number => {
    const known = runtime.images.layers.info(image.config.rootfs.diff_ids[i] as Digest).size;
    return typeof known === 'number' ? known : (image.manifest.layers[i]?.size ?? 0);
  };
  // Which images (ids) have each layer.
  const holders = new Map<string, Set<string>>();
  for (const image of images) {
    for (const diffId of image.config.rootfs.diff_ids) {
      holders.set(diffId, (holders.get(diffId) ?? new Set()).add(image.id));
    }
  }
  const imageRows = images.flatMap((image): ImageUsage[] => {
    const sharedSize = image.config.rootfs.diff_ids.reduce(
      (sum, diffId, i) => sum + ((holders.get(diffId)?.size ?? 0) > 1 ? layerSize(image, i) : 0),
      0,
    );
    const base = { image, size: image.size, sharedSize, containers: users.usersOf(image.id).length };
    return image.names.length === 0 ? [{ ...base, name: undefined }] : image.names.map((name) => ({ ...base, name }));
  });
  const usedBy = volumeUsers(runtime);
  const containers = runtime.containers.list().map((c): ContainerUsage => ({
    id: c.config.id,
    name: c.config.name,
    imageId: c.config.image.id,
    command: [
      ...(c.config.options.entrypoint ?? c.config.imageConfig.Entrypoint ?? []),
      ...(c.config.options.command ?? c.config.imageConfig.Cmd ?? []),
    ],
    localVolumes: c.config.options.mounts.filter(
      (m) => m.type === 'bind' && m.source.startsWith(`${volumesDir(runtime.paths.storage)}/`),
    ).length,
    size: treeSize(join(c.dir, 'upper')),
    created: new Date(c.config.created),
    status: c.state.status,
  }));
  const volumes = listVolumes(runtime.paths.storage).map((v): VolumeUsage => ({
    name: v.Name,
    links: usedBy(v.Name).length,
    size: treeSize(volumeMountpoint(runtime.paths.storage, v.Name)),
  }));
  return { images: imageRows, containers, volumes };
}
