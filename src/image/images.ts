/**
 * The use cases behind `hutch images`, `tag`, `rmi`, `inspect` and
 * `image prune`, with podman's behaviour and texts. Their tables, sizes, ages
 * and --format templates are src/cli/format's.
 */
import { HutchError } from '../errors.js';
import { hexOf, type Digest } from './digest.js';
import { MediaType } from './media.js';
import {
  ImageNotKnownError,
  isDamaged,
  openUserStore,
  repoDigests,
  type ImageStore,
  type ResolvedImage,
} from './store/store.js';
import {
  matchName,
  matchShortName,
  normalizeTag,
  refNameOf,
  removeName,
  repositoryOf,
  setName,
  tagOf,
  updateIndex,
} from './store/refs.js';
import { defaultRegistry, parseReference } from './reference.js';
import { checkStore, type CheckReport } from './store/check.js';

// ---------------------------------------------------------------------------
// images

export interface ListOptions {
  /** podman's -a: intermediate images too (hutch has none yet, so every image). */
  all?: boolean;
  /** Only images with a name matching this reference (a repository matches every tag). */
  reference?: string;
}

export async function listImages(
  options: ListOptions = {},
  env: NodeJS.ProcessEnv = process.env,
): Promise<ResolvedImage[]> {
  const { store } = await openUserStore(env);
  const scanned = store.scan();
  if (scanned.damaged.length > 0) {
    process.stderr.write(
      `warning: ${scanned.damaged.length} damaged image(s) not listed; run hutch system check --repair\n`,
    );
  }
  const images = store.listImages(scanned);
  if (options.reference === undefined) return images;
  const matches = referenceFilter(options.reference);
  return images.filter((image) => image.names.some((name) => matches(name, image.manifestDescriptor.digest)));
}

/**
 * Does a stored name match what the user gave to `hutch images NAME`? A
 * repository without a tag matches each of its tags; names resolve as for
 * every verb (the default registry, localhost/, a unique repository suffix).
 */
export function referenceFilter(
  input: string,
  registry: string = defaultRegistry(),
): (name: string, manifestDigest: Digest) => boolean {
  parseReference(input, registry);
  const tagGiven = /:[^/]*$/.test(input.replace(/@.*$/, ''));
  return (name, manifestDigest) => {
    const probe = tagGiven || input.includes('@') ? input : `${input}:${tagOf(name) ?? 'latest'}`;
    const digestOf = () => manifestDigest;
    if (matchName(probe, [name], { registry, digestOf }) !== undefined) return true;
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

/** podman's `images --format json` object for one image. */
export function imageJson(image: ResolvedImage): Record<string, unknown> {
  const tagged = image.names.filter((n) => tagOf(n) !== undefined);
  return {
    Id: hexOf(image.id),
    ParentId: '',
    RepoTags: tagged.length === 0 ? null : tagged,
    RepoDigests: repoDigests(image),
    Size: image.size,
    SharedSize: 0,
    VirtualSize: image.size,
    Labels: image.config.config?.Labels ?? null,
    Containers: 0,
    Names: image.names,
    Digest: image.manifestDescriptor.digest,
    History: image.names,
    Created: image.created === undefined ? 0 : Math.floor(image.created.getTime() / 1000),
    CreatedAt: image.created?.toISOString().replace(/\.\d+Z$/, 'Z') ?? '',
    Dangling: image.names.length === 0,
  };
}

// ---------------------------------------------------------------------------
// tag

/** `hutch tag IMAGE NAME…`: each name (normalized, tag-form) now points at the image; a name moves if used. */
export async function tagImage(source: string, names: string[], env: NodeJS.ProcessEnv = process.env): Promise<void> {
  if (names.length === 0) throw new HutchError('tag: give at least one new name for the image');
  const targets = names.map((n) => normalizeTag(n));
  const { store } = await openUserStore(env);
  const image = store.resolveImage(source);
  const digest = image.manifestDescriptor.digest;
  await updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
    // rmi may have removed it since it was resolved: check again under the lock.
    if (!index.manifests.some((e) => e.digest === digest)) throw new ImageNotKnownError(source);
    return targets.reduce((next, name) => setName(next, name, image.manifestDescriptor), index);
  });
}

// ---------------------------------------------------------------------------
// rmi

export interface RemoveOptions {
  images: string[];
  /** Every image. */
  all?: boolean;
  /** Remove an image by id even when it has several names. */
  force?: boolean;
  /** Ignore images that do not exist. */
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
  /** `Untagged: NAME` and `Deleted: HEX` lines, in order. */
  lines: string[];
  /** Failures, in order; the command continues past each. */
  errors: HutchError[];
  /** podman's status: 0, 1 when the only failures are unknown images, 2 when an image is in use, 125 otherwise. */
  exitCode: number;
}

/** `hutch rmi`: untags names, deletes images left without one, then collects what no image uses. */
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
      if (error instanceof ImageNotKnownError && options.ignore === true) continue;
      if (!(error instanceof HutchError)) throw error;
      result.errors.push(error);
    }
  }
  if (result.lines.some((l) => l.startsWith('Deleted: '))) await store.collectGarbage({ wait: true });
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

// ---------------------------------------------------------------------------
// image prune

/** `hutch image prune [-a]`: removes nameless images (every image with all), then collects garbage. Returns the ids removed. */
export async function pruneImages(
  options: { all?: boolean; inUse?: RemoveOptions['inUse'] },
  env: NodeJS.ProcessEnv = process.env,
): Promise<Digest[]> {
  const { store } = await openUserStore(env);
  const { images } = store.scan();
  // Images that containers were made from stay, named or not (podman's prune).
  const doomed = images.filter(
    (image) =>
      (options.all === true || image.names.length === 0) && (options.inUse?.usersOf(image.id).length ?? 0) === 0,
  );
  const removed: Digest[] = [];
  if (doomed.length > 0) {
    const digests = new Set<string>(doomed.map((i) => i.manifestDescriptor.digest));
    await updateIndex(store.indexPath, store.indexLockPath, store.tmpDir, (index) => {
      // Only what is still as it was seen: a name given meanwhile saves an image.
      const prunable = new Set(
        [...digests].filter(
          (d) => options.all === true || !index.manifests.some((e) => e.digest === d && refNameOf(e) !== undefined),
        ),
      );
      for (const image of doomed) if (prunable.has(image.manifestDescriptor.digest)) removed.push(image.id);
      return { ...index, manifests: index.manifests.filter((e) => !prunable.has(e.digest)) };
    });
  }
  await store.collectGarbage({ wait: true });
  return [...new Set(removed)];
}

// ---------------------------------------------------------------------------
// inspect

/** `hutch image inspect IMAGE…`: podman's objects; unknown images fail the whole command, as podman does. */
export async function inspectImages(
  inputs: string[],
  env: NodeJS.ProcessEnv = process.env,
): Promise<Record<string, unknown>[]> {
  if (inputs.length === 0) throw new HutchError('inspect: give at least one image name or id');
  const { store } = await openUserStore(env);
  return inputs.map((input) => inspectJson(store.resolveImage(input)));
}

export function inspectJson(image: ResolvedImage): Record<string, unknown> {
  const config = image.config as ResolvedImage['config'] & { comment?: string; docker_version?: string };
  const history = config.history ?? [];
  const tagged = image.names.filter((n) => tagOf(n) !== undefined);
  return {
    Id: hexOf(image.id),
    Digest: image.manifestDescriptor.digest,
    RepoTags: tagged,
    RepoDigests: repoDigests(image),
    Parent: '',
    Comment: config.comment ?? history.at(-1)?.comment ?? '',
    Created: config.created ?? '',
    Config: config.config ?? {},
    Version: config.docker_version ?? '',
    Author: config.author ?? '',
    Architecture: config.architecture,
    Os: config.os,
    ...(config.variant === undefined ? {} : { Variant: config.variant }),
    Size: image.size,
    VirtualSize: image.size,
    RootFS: { Type: 'layers', Layers: config.rootfs.diff_ids },
    Labels: config.config?.Labels ?? null,
    Annotations: image.manifest.annotations ?? {},
    ManifestType: image.manifest.mediaType ?? image.manifestDescriptor.mediaType ?? MediaType.ociManifest,
    User: config.config?.User ?? '',
    History: history,
    NamesHistory: [],
  };
}

// ---------------------------------------------------------------------------
// system check

/** `hutch system check [--repair]`: the findings, and whether the store is consistent at the end. */
export async function checkImages(
  options: { repair?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): Promise<CheckReport> {
  // Leftovers of dead commands are reported (and removed with --repair), not quietly reaped first.
  const { store, identity } = await openUserStore(env, { reap: false });
  return checkStore(store, { repair: options.repair === true, userXattrs: !identity.root });
}

/** One line per finding, with what --repair did about it. */
export function formatCheck(report: CheckReport): string {
  const lines = report.findings.map(
    (f) =>
      `${f.kind === 'unused' ? 'unused: ' : ''}${f.problem}${f.repaired === undefined ? '' : `: ${f.repaired}`}\n` +
      (f.hint === undefined ? '' : `hint: ${f.hint}\n`),
  );
  const unused = report.findings.filter((f) => f.kind === 'unused' && f.repaired === undefined).length;
  if (report.consistent) lines.push('the store is consistent\n');
  if (unused > 0) lines.push(`${unused} unused blobs and layers can be reclaimed with hutch system check --repair\n`);
  return lines.join('');
}
