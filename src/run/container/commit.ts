/**
 * What `hutch commit` makes (src/verbs/commit.ts checks the flags): the
 * container's changes (its overlay upper directory, diffed without looking at
 * the layers below: src/image/layer/diff.ts) become one gzip layer on top of
 * its image. The new image's config is the image's, with the container's
 * command, entrypoint, environment (the image's plus -e), user, working
 * directory, labels and stop signal, then each --change applied, a history
 * entry, and the new diff id. The layer is unpacked into the store before the
 * image is committed, so the image runs at once.
 *
 * A commit of a running container reads files that may be changing, as
 * podman's default does.
 */
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { HutchError, withContext } from '../../errors.js';
import { HashingStream, type Digest } from '../../image/digest.js';
import { applyChange, commitDocuments, verifiedFile } from '../../image/import.js';
import { compressStream } from '../../image/layer/compression.js';
import { diffLayer } from '../../image/layer/diff.js';
import { MediaType } from '../../image/media.js';
import type { ContainerConfig as ImageRuntimeConfig, ImageConfig, Manifest } from '../../image/oci.js';
import type { StagedBlob } from '../../image/store/blobs.js';
import { unpackLayer } from '../../image/store/layers.js';
import { storageError } from '../../image/store/store.js';
import type { Runtime } from './lifecycle.js';
import { DEFAULT_MOUNT_POINTS, INIT_PATH } from './mount-defaults.js';
import { containerArgs, mergeEnv } from './spec-builder.js';
import type { Container } from './store.js';

export interface CommitFlags {
  container: string;
  image: string | undefined;
  message: string | undefined;
  author: string | undefined;
  changes: string[];
  pause: boolean;
}

/** The instructions podman commit --change takes (ONBUILD aside). */
const CHANGE_INSTRUCTIONS = ['CMD', 'ENTRYPOINT', 'ENV', 'EXPOSE', 'LABEL', 'USER', 'VOLUME', 'WORKDIR', 'STOPSIGNAL'];

/** Checks each --change and applies them in order to config. */
export function applyChanges(config: ImageRuntimeConfig, changes: readonly string[]): void {
  for (const change of changes) {
    const instruction = /^\s*([A-Za-z]+)/.exec(change)?.[1]?.toUpperCase();
    if (instruction === undefined || !CHANGE_INSTRUCTIONS.includes(instruction)) {
      throw new HutchError(`invalid change ${JSON.stringify(change)} - invalid instruction ${instruction ?? change}`, {
        hint: `commit --change takes ${CHANGE_INSTRUCTIONS.join(', ')}, e.g. --change 'CMD ["sh"]'`,
      });
    }
    applyChange(config, change);
  }
}

/** The image config's runtime part as the container ran: docker's commit rules. */
export function committedConfig(container: Container): ImageRuntimeConfig {
  const { options, imageConfig } = container.config;
  const config: ImageRuntimeConfig = { ...imageConfig };
  const env = mergeEnv(imageConfig.Env ?? [], options.env);
  if (env.length > 0) config.Env = env;
  if (options.entrypoint !== undefined) config.Entrypoint = options.entrypoint.length > 0 ? options.entrypoint : null;
  if (options.command !== undefined && options.command.length > 0) config.Cmd = options.command;
  else if (options.entrypoint !== undefined) config.Cmd = null;
  if (options.user !== undefined) config.User = options.user;
  if (options.workdir !== undefined) config.WorkingDir = options.workdir;
  if (Object.keys(options.labels).length > 0) config.Labels = { ...imageConfig.Labels, ...options.labels };
  if (options.stopSignal !== undefined) config.StopSignal = options.stopSignal;
  return config;
}

/**
 * Paths hutch's start makes in the rootfs as mount points: left out of the
 * layer while they are still empty files or directories holding only such
 * paths (diffLayer's skipEmpty), as podman leaves out its mount points.
 */
export function mountPoints(container: Container): string[] {
  const paths = new Set<string>([...DEFAULT_MOUNT_POINTS, '/run', INIT_PATH]);
  for (const mount of container.config.options.mounts) {
    const parts = mount.destination.split('/').filter((p) => p !== '');
    for (let i = 1; i <= parts.length; i++) paths.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...paths];
}

/** Docker's layer media types are the OCI ones under another name: the new manifest is OCI. */
function ociLayer(layer: Manifest['layers'][number]): Manifest['layers'][number] {
  const renamed: Record<string, string> = {
    [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
    'application/vnd.docker.image.rootfs.diff.tar': MediaType.ociLayer,
  };
  const {
    urls: _urls,
    annotations: _annotations,
    ...rest
  } = layer as Manifest['layers'][number] & {
    urls?: unknown;
    annotations?: unknown;
  };
  return { ...rest, mediaType: renamed[layer.mediaType] ?? layer.mediaType };
}

/**
 * The container's changes as a new image (named flags.image, if given) on top
 * of its image, with runtimeConfig as its config; returns the image id.
 */
export async function commitContainer(
  runtime: Runtime,
  container: Container,
  runtimeConfig: ImageRuntimeConfig,
  flags: Pick<CommitFlags, 'image' | 'message' | 'author'> & { onWarning: (message: string) => void },
): Promise<Digest> {
  const store = runtime.images;
  const base = store.resolveImage(container.config.image.id);
  const what = `commit ${container.config.name}`;
  const releaseContainer = await runtime.containers.lock(container.config.id);
  const release = await store.writeLock();
  let staged: StagedBlob | undefined;
  try {
    if (runtime.containers.read(container.config.id) === undefined) {
      throw new HutchError(`container ${container.config.name} was removed`);
    }
    const userXattrs = !runtime.identity.root;
    const diff = new HashingStream();
    const layer = diffLayer(join(container.dir, 'upper'), { userXattrs, skipEmpty: mountPoints(container) });
    const compress = compressStream('gzip');
    void pipeline(layer, diff, compress).catch((error: unknown) => compress.destroy(error as Error));
    staged = await store.blobs.stage(compress, undefined, { what: `layer of container ${container.config.name}` });
    const diffId = diff.digest();
    await unpackLayer(store, diffId, verifiedFile(staged.path, staged.digest), 'gzip', {
      userXattrs,
      onWarning: flags.onWarning,
    });
    staged.commit();
    const created = new Date().toISOString();
    let command: string;
    try {
      command = containerArgs(container).join(' ');
    } catch {
      command = '';
    }
    const config: ImageConfig = {
      ...base.config,
      created,
      config: runtimeConfig,
      rootfs: { type: 'layers', diff_ids: [...base.config.rootfs.diff_ids, diffId] },
      history: [
        ...(base.config.history ?? []),
        {
          created,
          created_by: command,
          ...(flags.author === undefined ? {} : { author: flags.author }),
          ...(flags.message === undefined ? {} : { comment: flags.message }),
        },
      ],
    };
    if (flags.author !== undefined) config.author = flags.author;
    else delete config.author;
    const layers = [
      ...base.manifest.layers.map(ociLayer),
      { mediaType: MediaType.ociLayerGzip, digest: staged.digest, size: staged.size },
    ];
    return await commitDocuments(store, flags.image, config, layers);
  } catch (error) {
    staged?.discard();
    if (error instanceof HutchError) throw error;
    const full = storageError(error, store.storageDir, what);
    throw full !== error ? full : withContext('commit', what, error);
  } finally {
    release();
    releaseContainer();
    await store.collectGarbage({ wait: false }).catch(() => undefined);
  }
}
