/**
 * `hutch rmi` (`image rm`): untags names and deletes the images left without
 * one, with podman's rules and exit statuses. The lines podman prints
 * (`Untagged:`, `Deleted:`) come back as data; src/cli prints them.
 */
import { HutchError } from '../errors.js';
import { hexOf, type Digest } from '../image/digest.js';
import { openUserStore, type ImageStore } from '../image/store/store.js';
import { refNameOf, removeName, updateIndex } from '../image/store/refs.js';
import { imageUsers } from '../run/container/users.js';
import { ImageNotKnownError, isDamaged } from '../image/store/resolve.js';

export interface RemoveOptions {
  images: string[];
  /** Every image. */
  all?: boolean;
  /** Remove an image by id even when it has several names. */
  force?: boolean;
  /** Ignore images that do not exist (force does too, as podman's). */
  ignore?: boolean;
  /**
   * The containers made from an image (the container store answers; none
   * when omitted). An image one uses is not deleted (exit 2, podman's), unless
   * force, which removes those containers first.
   */
  inUse?: {
    usersOf(imageId: Digest): string[];
    removeUsers(imageId: Digest): Promise<void>;
  };
}

/** podman's refusal to delete an image a container uses (exit 2). */
export class ImageInUseError extends HutchError {
  constructor(container: string) {
    super(
      `image used by ${container}: image is in use by a container: consider listing external containers and force-removing image`,
      { exitCode: 2, hint: 'remove the container first (hutch rm), or use hutch rmi -f to remove it with the image' },
    );
    this.name = 'ImageInUseError';
  }
}

export interface RemoveResult {
  /** `Untagged: NAME` lines, then `Deleted: HEX` lines. */
  lines: string[];
  /** Failures, in order; the command continues past each. */
  errors: HutchError[];
  /** podman's status: 0, 1 when the only failures are unknown images, 2 when an image is in use, 125 otherwise. */
  exitCode: number;
}

/** `hutch rmi`, with the container store saying which images containers use. */
export async function rmi(
  options: Omit<RemoveOptions, 'inUse'>,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RemoveResult> {
  return removeImages({ ...options, inUse: await imageUsers(env) }, env);
}

/** Untags names, deletes images left without one, then collects what no image uses. */
export async function removeImages(
  options: RemoveOptions,
  env: NodeJS.ProcessEnv = process.env,
): Promise<RemoveResult> {
  if (options.all !== true && options.images.length === 0) {
    throw new HutchError('image name or ID must be specified');
  }
  if (options.all === true && options.images.length > 0) {
    throw new HutchError('rmi: when using the --all switch, you may not pass any images names or IDs');
  }
  const { store } = await openUserStore(env);
  const result: RemoveResult = { lines: [], errors: [], exitCode: 0 };
  if (options.all === true) {
    const { images, damaged } = store.scan();
    const byId = new Map<Digest, Digest[]>();
    for (const image of images) byId.set(image.id, [...(byId.get(image.id) ?? []), image.manifestDescriptor.digest]);
    for (const [id, digests] of byId) {
      try {
        await checkUsers(options, id);
      } catch (error) {
        if (!(error instanceof HutchError)) throw error;
        result.errors.push(error);
        continue;
      }
      await deleteImage(store, digests, result, id);
    }
    for (const image of damaged) await deleteImage(store, [image.digest], result, image.digest);
  }
  for (const input of options.images) {
    try {
      const { images, damaged } = store.scan();
      const { image, name } = store.findImage(input, images, damaged);
      if (isDamaged(image)) {
        await deleteImage(store, [image.digest], result, image.digest);
        continue;
      }
      // Every manifest of the image (podman's one image per id).
      const group = images.filter((i) => i.id === image.id);
      const names = group.flatMap((i) => i.names);
      if (name !== undefined && names.length > 1) {
        await untag(store, image.manifestDescriptor.digest, name);
        result.lines.push(`Untagged: ${name}`);
      } else if (name === undefined && names.length > 1 && options.force !== true) {
        throw new HutchError(
          `unable to delete image "${hexOf(image.id)}" by ID with more than one tag ([${names.join(' ')}]): please force removal`,
        );
      } else {
        await checkUsers(options, image.id);
        await deleteImage(
          store,
          group.map((i) => i.manifestDescriptor.digest),
          result,
          image.id,
        );
      }
    } catch (error) {
      if (error instanceof ImageNotKnownError && (options.ignore === true || options.force === true)) continue;
      if (!(error instanceof HutchError)) throw error;
      result.errors.push(error);
    }
  }
  if (result.lines.some((l) => l.startsWith('Deleted: '))) await store.collectGarbage({ wait: true });
  // podman reports every name untagged, then every image deleted.
  result.lines = [
    ...result.lines.filter((l) => l.startsWith('Untagged: ')),
    ...result.lines.filter((l) => !l.startsWith('Untagged: ')),
  ];
  if (result.errors.length > 0) {
    result.exitCode = result.errors.every((e) => e instanceof ImageNotKnownError)
      ? 1
      : result.errors.some((e) => e instanceof ImageInUseError)
        ? 2
        : 125;
  }
  return result;
}

/** Refuses an image containers use, or with force removes them first. */
async function checkUsers(options: RemoveOptions, id: Digest): Promise<void> {
  const users = options.inUse?.usersOf(id) ?? [];
  if (users.length === 0) return;
  if (options.force !== true) throw new ImageInUseError(users[0] as string);
  await options.inUse?.removeUsers(id);
}

async function untag(store: ImageStore, digest: Digest, name: string): Promise<void> {
  await updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
    const entry = index.manifests.find((e) => refNameOf(e) === name);
    if (entry === undefined || entry.digest !== digest) throw new ImageNotKnownError(name);
    return removeName(index, name, { keepNameless: true });
  });
}

/** podman's message for several failures (hashicorp/go-multierror's): one per line, after a count. */
export function combinedMessage(errors: readonly Error[]): string {
  if (errors.length === 1) return (errors[0] as Error).message;
  return `${errors.length} errors occurred:\n${errors.map((e) => `\t* ${e.message}`).join('\n')}`;
}

/** Removes every entry of the image's manifests: `Untagged:` for each name, then `Deleted:` with the id. */
async function deleteImage(store: ImageStore, digests: Digest[], result: RemoveResult, id: Digest): Promise<void> {
  const doomed = new Set<string>(digests);
  let names: string[] = [];
  await updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
    const entries = index.manifests.filter((e) => doomed.has(e.digest));
    if (entries.length === 0) throw new ImageNotKnownError(hexOf(id));
    names = entries.map(refNameOf).filter((n): n is string => n !== undefined);
    return { ...index, manifests: index.manifests.filter((e) => !doomed.has(e.digest)) };
  });
  for (const name of names) result.lines.push(`Untagged: ${name}`);
  result.lines.push(`Deleted: ${hexOf(id)}`);
}
