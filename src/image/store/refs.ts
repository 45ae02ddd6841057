/**
 * index.json of the store's OCI layout: one entry (a manifest descriptor) per
 * image name, whose `org.opencontainers.image.ref.name` annotation is the full
 * normalized reference (`docker.io/library/busybox:latest`, `localhost/app:latest`), so skopeo
 * (`oci:DIR:NAME`) and umoci read it; an image without a name keeps one entry
 * without the annotation (podman's `<none>`).
 *
 * The pure functions below edit an Index value; updateIndex() applies one of
 * them atomically under the index lock.
 */
import { readFileSync } from 'node:fs';
import { HutchError } from '../../errors.js';
import { isDigest, type Digest } from '../digest.js';
import { MediaType } from '../media.js';
import { RefNameAnnotation, type Descriptor, type Index } from '../oci.js';
import { DOCKER_HUB, formatReference, isShortName, LOCALHOST, parseReference, repositoryName } from '../reference.js';
import { localCandidates, type ShortNameSettings } from '../registries-conf/short-names.js';
import { recordNamesHistory } from './names-history.js';
import { acquireLock } from '../../fs/lock.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';

export function emptyIndex(): Index {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

/** Parses and checks index.json: what a later step relies on is validated here. */
export function parseIndex(text: string, where: string): Index {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (error) {
    throw new HutchError(`${where}: not valid JSON: ${(error as Error).message}`, {
      hint: 'run hutch system check --repair',
    });
  }
  const index = value as Partial<Index> | null;
  if (index === null || typeof index !== 'object' || index.schemaVersion !== 2 || !Array.isArray(index.manifests)) {
    throw new HutchError(`${where}: not an OCI image index (schemaVersion 2 with a manifests array)`, {
      hint: 'run hutch system check --repair',
    });
  }
  for (const entry of index.manifests) {
    if (
      entry === null ||
      typeof entry !== 'object' ||
      typeof entry.mediaType !== 'string' ||
      !isDigest(String(entry.digest)) ||
      !Number.isSafeInteger(entry.size) ||
      entry.size < 0
    ) {
      throw new HutchError(`${where}: an entry is not a valid descriptor: ${JSON.stringify(entry).slice(0, 200)}`, {
        hint: 'run hutch system check --repair',
      });
    }
  }
  return index as Index;
}

export function readIndex(path: string): Index {
  return parseIndex(readFileSync(path, 'utf8'), path);
}

/** Writes index.json atomically: a flocked temp file in tmpDir, fsync, rename, fsync of the directory. */
export function writeIndex(path: string, index: Index, tmpDir: string): void {
  writeFileAtomic(path, `${JSON.stringify(index)}\n`, { tempDir: tmpDir });
}

/**
 * Reads, edits and rewrites index.json under the index lock, so two commands
 * never lose each other's edits. `edit` returns the new index, or undefined to
 * leave the file as it is. Returns the index as it is afterwards.
 */
export async function updateIndex(
  path: string,
  lockPath: string,
  tmpDir: string,
  edit: (index: Index) => Index | undefined,
): Promise<Index> {
  const release = await acquireLock(lockPath);
  try {
    const current = readIndex(path);
    const edited = edit(structuredClone(current));
    if (edited === undefined) return current;
    const next = recordNamesHistory(current, edited);
    writeIndex(path, next, tmpDir);
    return next;
  } finally {
    release();
  }
}

/** The image's name an entry carries, if any. */
export function refNameOf(entry: Descriptor): string | undefined {
  const name = entry.annotations?.[RefNameAnnotation];
  return name === undefined || name === '' ? undefined : name;
}

/**
 * The name an image gets from a name the user typed, as podman names what it
 * builds, tags, imports, commits and loads: a name without a registry goes
 * under localhost/ (`app` -> `localhost/app:latest`, `team/app:1` ->
 * `localhost/team/app:1`); a name with one is normalized as docker does
 * (`docker.io/busybox` -> `docker.io/library/busybox:latest`).
 */
export function normalizeName(name: string): string {
  return formatReference(parseReference(name, LOCALHOST));
}

/** A name to give an image: a reference with a tag, not a digest. */
export function normalizeTag(name: string): string {
  const ref = parseReference(name, LOCALHOST);
  if (ref.digest !== undefined) {
    throw new HutchError(`invalid image name ${JSON.stringify(name)}: tagging with a digest is not supported`, {
      hint: 'give a name with a tag, e.g. localhost/app:1.0',
    });
  }
  return formatReference(ref);
}

function entryFor(descriptor: Descriptor, name: string | undefined): Descriptor {
  const entry: Descriptor = { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size };
  if (name !== undefined) entry.annotations = { [RefNameAnnotation]: name };
  return entry;
}

/**
 * Points `name` at the manifest. The name leaves any other image; an image
 * left without a name keeps a nameless entry. The manifest's own nameless
 * entry, if any, goes away since it now has a name.
 */
export function setName(index: Index, name: string, descriptor: Descriptor): Index {
  const previous = index.manifests.find((e) => refNameOf(e) === name);
  if (previous !== undefined && previous.digest === descriptor.digest) return index;
  const manifests = index.manifests.filter(
    (e) => refNameOf(e) !== name && !(e.digest === descriptor.digest && refNameOf(e) === undefined),
  );
  if (previous !== undefined && !manifests.some((e) => e.digest === previous.digest)) {
    manifests.push(entryFor(previous, undefined));
  }
  manifests.push(entryFor(descriptor, name));
  return { ...index, manifests };
}

/** Adds the manifest without a name, unless it is in the index already. */
export function addNameless(index: Index, descriptor: Descriptor): Index | undefined {
  if (index.manifests.some((e) => e.digest === descriptor.digest)) return undefined;
  return { ...index, manifests: [...index.manifests, entryFor(descriptor, undefined)] };
}

/**
 * Takes `name` off its image. With `keepNameless`, an image left without names
 * stays as a nameless entry (podman's untag); otherwise it leaves the index.
 */
export function removeName(index: Index, name: string, options: { keepNameless: boolean }): Index {
  const entry = index.manifests.find((e) => refNameOf(e) === name);
  if (entry === undefined) return index;
  const manifests = index.manifests.filter((e) => refNameOf(e) !== name);
  if (options.keepNameless && !manifests.some((e) => e.digest === entry.digest)) {
    manifests.push(entryFor(entry, undefined));
  }
  return { ...index, manifests };
}

/** Removes every entry of these manifests. */
export function removeManifests(index: Index, digests: Iterable<Digest>): Index {
  const doomed = new Set<string>(digests);
  return { ...index, manifests: index.manifests.filter((e) => !doomed.has(e.digest)) };
}

/** The names of one manifest, in index order. */
export function namesOf(index: Index, digest: Digest): string[] {
  return index.manifests
    .filter((e) => e.digest === digest)
    .map(refNameOf)
    .filter((n): n is string => n !== undefined);
}

/**
 * Which stored name a name typed by the user means, by podman's rule: each of
 * its local candidates in order (registries-conf/short-names.ts: the alias,
 * `localhost/NAME`, NAME under each unqualified-search registry, docker.io).
 * A name with a digest (`busybox@sha256:…`) matches a stored name of a
 * candidate's repository when `digestOf` gives that manifest digest for it.
 */
export function matchName(
  input: string,
  names: readonly string[],
  options: { shortNames: ShortNameSettings; digestOf?: (name: string) => Digest | undefined },
): string | undefined {
  let candidates;
  try {
    candidates = localCandidates(input, options.shortNames);
  } catch {
    return undefined;
  }
  if (candidates[0]?.digest === undefined) {
    const stored = new Set(names);
    return candidates.map(formatReference).find((c) => stored.has(c));
  }
  for (const candidate of candidates) {
    const repo = repositoryName(candidate);
    const found = names.find((name) => repositoryOf(name) === repo && options.digestOf?.(name) === candidate.digest);
    if (found !== undefined) return found;
  }
  return undefined;
}

/**
 * Docker's rule for short names, podman's last resort (after ids): the one
 * stored name whose repository ends with `/NAME` and has the same tag (or
 * manifest digest), so `app` finds `localhost:5000/team/app:latest`. Several
 * matches are an error naming them.
 */
export function matchShortName(
  input: string,
  names: readonly string[],
  options: { digestOf?: (name: string) => Digest | undefined } = {},
): string | undefined {
  if (!isShortName(input)) return undefined;
  let ref;
  try {
    ref = parseReference(input, DOCKER_HUB);
  } catch {
    return undefined;
  }
  const [path] = splitTag(input.replace(/@.*$/, ''));
  const matches = names.filter((name) => {
    if (!repositoryOf(name).endsWith(`/${path}`)) return false;
    if (ref.digest !== undefined) return options.digestOf?.(name) === ref.digest;
    return tagOf(name) === ref.tag;
  });
  if (matches.length > 1) {
    throw new HutchError(`${input}: the short name matches several images: ${matches.join(', ')}`, {
      hint: 'give the full name (with its registry) or the image id',
    });
  }
  return matches[0];
}

function splitTag(path: string): [string, string | undefined] {
  const colon = path.lastIndexOf(':');
  return colon > path.lastIndexOf('/') ? [path.slice(0, colon), path.slice(colon + 1)] : [path, undefined];
}

/** `registry/repo` of a stored name `registry/repo:tag` (or `@digest`). */
export function repositoryOf(name: string): string {
  const at = name.indexOf('@');
  const withoutDigest = at >= 0 ? name.slice(0, at) : name;
  return splitTag(withoutDigest)[0];
}

/** The tag of a stored name, undefined for a digest-only name. */
export function tagOf(name: string): string | undefined {
  const at = name.indexOf('@');
  return at >= 0 ? undefined : splitTag(name)[1];
}

/** Docker's short form of a stored name (`docker.io/library/busybox:latest` -> `busybox:latest`). */
export function shortName(name: string): string {
  if (name.startsWith(`${DOCKER_HUB}/library/`)) return name.slice(`${DOCKER_HUB}/library/`.length);
  if (name.startsWith(`${DOCKER_HUB}/`)) return name.slice(`${DOCKER_HUB}/`.length);
  return name;
}
