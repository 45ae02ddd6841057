/**
 * A stage's image as it is built, step by step: its layers (diff id and blob),
 * config, history and the key that names everything before the next step in
 * the layer cache.
 */
import { createHash } from 'node:crypto';
import type { Digest } from '../image/digest.js';
import { MediaType } from '../image/media.js';
import type { ContainerConfig, Descriptor, HistoryEntry, ImageConfig, Platform } from '../image/oci.js';
import type { ResolvedImage } from '../image/store/resolve.js';

export interface LayerRef {
  diffId: Digest;
  blob: Descriptor;
}

export interface ImageState {
  layers: LayerRef[];
  runtime: ContainerConfig;
  history: HistoryEntry[];
  platform: Platform;
  author: string | undefined;
  /** How many of the layers the stage's base had (what --squash leaves alone). */
  baseLayers: number;
  /** Hash of the base and every step so far: the parent part of the next step's cache key. */
  chainKey: string;
}

export function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Docker's layer media types are the OCI ones under other names. */
function ociLayer(layer: Descriptor): Descriptor {
  const renamed: Record<string, string> = {
    [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
    'application/vnd.docker.image.rootfs.diff.tar': MediaType.ociLayer,
  };
  return { mediaType: renamed[layer.mediaType] ?? layer.mediaType, digest: layer.digest, size: layer.size };
}

export function stateOfImage(image: ResolvedImage, salt: string): ImageState {
  const config = image.config;
  return {
    layers: image.manifest.layers.map((blob, i) => ({
      diffId: config.rootfs.diff_ids[i] as Digest,
      blob: ociLayer(blob),
    })),
    runtime: structuredClone(config.config ?? {}),
    history: structuredClone(config.history ?? []),
    platform: {
      os: config.os,
      architecture: config.architecture,
      ...(config.variant === undefined ? {} : { variant: config.variant }),
    },
    author: config.author,
    baseLayers: image.manifest.layers.length,
    chainKey: sha256(`image\n${image.id}\n${salt}`),
  };
}

export function scratchState(platform: Platform, salt: string): ImageState {
  return {
    layers: [],
    runtime: {},
    history: [],
    platform,
    author: undefined,
    baseLayers: 0,
    chainKey: sha256(`scratch\n${platform.os}/${platform.architecture}\n${salt}`),
  };
}

export function cloneState(state: ImageState): ImageState {
  return structuredClone(state);
}

/** The image config of a state, created at `created`. */
export function imageConfigOf(state: ImageState, created: string): ImageConfig {
  return {
    created,
    ...(state.author === undefined ? {} : { author: state.author }),
    architecture: state.platform.architecture,
    os: state.platform.os,
    ...(state.platform.variant === undefined ? {} : { variant: state.platform.variant }),
    config: state.runtime,
    rootfs: { type: 'layers', diff_ids: state.layers.map((l) => l.diffId) },
    history: state.history,
  };
}
