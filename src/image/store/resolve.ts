/**
 * Which image a user's word means, as podman resolves it (a full id or digest,
 * a name, a short id, a docker-style short name), and what every verb sees of
 * an image: ResolvedImage, or DamagedImage for an index entry whose content
 * cannot be read. ImageStore.resolveImage and findImage (store.ts) apply it to
 * the store's index.
 */
import { HutchError } from '../../errors.js';
import { hexOf, isDigest, type Digest } from '../digest.js';
import type { Descriptor, ImageConfig, Manifest } from '../oci.js';
import type { ShortNameSettings } from '../registries-conf/short-names.js';
import { matchName, matchShortName, repositoryOf } from './refs.js';

/** An image of the store, as every verb sees it. */
export interface ResolvedImage {
  /** The config digest (podman's image id). */
  id: Digest;
  /** Full names, in index order; [] for a nameless image. */
  names: string[];
  /** Every name the image has had, newest first (podman's NamesHistory; names-history.ts). */
  namesHistory: string[];
  manifestDescriptor: Descriptor;
  manifest: Manifest;
  config: ImageConfig;
  /** The size of the config blob, for inspect. */
  configSize: number;
  /** Sum of the layers' uncompressed sizes (blob sizes where unknown), as podman reports it. */
  size: number;
  /** The config's `created`, if it has a valid one. */
  created: Date | undefined;
}

export type ImageSummary = ResolvedImage;

/** An index entry whose content cannot be read (for listings to skip and `system check` to report). */
export interface DamagedImage {
  digest: Digest;
  names: string[];
  problem: string;
}

/** podman's `Error: NAME: image not known`. */
export class ImageNotKnownError extends HutchError {
  constructor(
    readonly input: string,
    exitCode?: number,
    hint?: string,
  ) {
    super(`${input}: image not known`, { ...(exitCode === undefined ? {} : { exitCode }), hint });
    this.name = 'ImageNotKnownError';
  }
}

export function imageNotKnown(nameOrId: string): HutchError {
  return new ImageNotKnownError(nameOrId);
}

/** What a user's word found: the image, and the stored name it matched (undefined for an id or digest). */
export interface FoundImage {
  image: ResolvedImage | DamagedImage;
  name: string | undefined;
}

export function isDamaged(image: ResolvedImage | DamagedImage): image is DamagedImage {
  return 'problem' in image;
}

/** The manifest digest of an image, damaged or not. */
export function manifestDigestOf(image: ResolvedImage | DamagedImage): Digest {
  return isDamaged(image) ? image.digest : image.manifestDescriptor.digest;
}

/** The image a user's word means (see ImageStore.resolveImage); undefined if none. */
export function findImage(
  input: string,
  images: readonly ResolvedImage[],
  damaged: readonly DamagedImage[],
  shortNames: ShortNameSettings,
): FoundImage | undefined {
  const all: (ResolvedImage | DamagedImage)[] = [...images, ...damaged];
  // 1. A full id or digest.
  const full = input.startsWith('sha256:') ? input : /^[a-f0-9]{64}$/.test(input) ? `sha256:${input}` : undefined;
  if (full !== undefined) {
    if (!isDigest(full)) return undefined;
    const image = images.find((i) => i.id === full) ?? all.find((x) => manifestDigestOf(x) === full);
    return image === undefined ? undefined : { image, name: undefined };
  }
  // 2. A name: the short name's candidates (alias, localhost/, search registries, docker.io).
  const byName = new Map<string, ResolvedImage | DamagedImage>();
  for (const x of all) for (const name of x.names) byName.set(name, x);
  const names = [...byName.keys()];
  const digestOf = (name: string) => {
    const x = byName.get(name);
    return x === undefined ? undefined : manifestDigestOf(x);
  };
  const byNameFound = (name: string | undefined): FoundImage | undefined => {
    const image = name === undefined ? undefined : byName.get(name);
    return image === undefined ? undefined : { image, name };
  };
  const named = byNameFound(matchName(input, names, { shortNames, digestOf }));
  if (named !== undefined) return named;
  // 3. A short id.
  if (/^[a-f0-9]{3,63}$/.test(input)) {
    const matches = images.filter((i) => hexOf(i.id).startsWith(input));
    const ids = new Set(matches.map((i) => i.id));
    if (ids.size > 1) {
      const list = [...ids].map((i) => hexOf(i).slice(0, 12)).join(', ');
      throw new HutchError(`${input}: the short id matches ${ids.size} images: ${list}`, {
        hint: 'give more digits of the id',
      });
    }
    if (matches[0] !== undefined) return { image: matches[0], name: undefined };
  }
  // 4. Docker's short names: a unique repository suffix.
  return byNameFound(matchShortName(input, names, { digestOf }));
}

/** `registry/repo@manifest-digest` for each repository the image is named in (podman's RepoDigests). */
export function repoDigests(image: ResolvedImage): string[] {
  const repos = [...new Set(image.names.map(repositoryOf))];
  return repos.map((repo) => `${repo}@${image.manifestDescriptor.digest}`);
}
