/**
 * `hutch images` (`image ls`): the images of the store, or those whose name
 * matches a reference, as typed rows; src/cli renders them.
 */
import type { Digest } from '../image/digest.js';
import { parseReference } from '../image/reference.js';
import { loadRegistriesConf } from '../image/registries-conf/load.js';
import type { ShortNameSettings } from '../image/registries-conf/short-names.js';
import { matchName, matchShortName, repositoryOf, tagOf } from '../image/store/refs.js';
import { openUserStore } from '../image/store/store.js';
import { type ResolvedImage } from '../image/store/resolve.js';

export interface ListOptions {
  /** podman's -a: intermediate images too (hutch has none yet, so every image). */
  all?: boolean;
  /** Only images with a name matching this reference (a repository matches every tag). */
  reference?: string;
}

/** What `hutch images` found. */
export interface ImageList {
  images: ResolvedImage[];
  /** Images whose content is missing or corrupt: not listed, and worth a warning (system check --repair). */
  damaged: number;
}

export async function listImages(options: ListOptions = {}, env: NodeJS.ProcessEnv = process.env): Promise<ImageList> {
  const { store } = await openUserStore(env);
  const scanned = store.scan();
  const damaged = scanned.damaged.length;
  const images = store.listImages(scanned);
  if (options.reference === undefined) return { images, damaged };
  const matches = referenceFilter(options.reference);
  return {
    images: images.filter((image) => image.names.some((name) => matches(name, image.manifestDescriptor.digest))),
    damaged,
  };
}

/**
 * Does a stored name match what the user gave to `hutch images NAME`? A
 * repository without a tag matches each of its tags; names resolve as for
 * every verb (registries.conf's candidates, a unique repository suffix).
 */
export function referenceFilter(
  input: string,
  shortNames: ShortNameSettings = loadRegistriesConf(),
): (name: string, manifestDigest: Digest) => boolean {
  parseReference(input);
  const tagGiven = /:[^/]*$/.test(input.replace(/@.*$/, ''));
  return (name, manifestDigest) => {
    const probe = tagGiven || input.includes('@') ? input : `${input}:${tagOf(name) ?? 'latest'}`;
    const digestOf = () => manifestDigest;
    if (matchName(probe, [name], { shortNames, digestOf }) !== undefined) return true;
    try {
      return matchShortName(probe, [name], { digestOf }) !== undefined;
    } catch {
      return false;
    }
  };
}

/** One row of `hutch images`: an image under one of its names. */
export interface ImageRow {
  repository: string;
  tag: string;
  image: ResolvedImage;
}

export function imageRows(images: readonly ResolvedImage[]): ImageRow[] {
  return images.flatMap((image) =>
    image.names.length === 0
      ? [{ repository: '<none>', tag: '<none>', image }]
      : image.names.map((name) => ({ repository: repositoryOf(name), tag: tagOf(name) ?? '<none>', image })),
  );
}
