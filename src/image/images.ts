/**
 * The use cases behind `hutch images`, `tag`, `rmi`, `inspect` and
 * `image prune`, with podman's behaviour and texts, plus the pure formatting
 * of their output (tables as podman's tabwriter lays them out, sizes and ages
 * as docker/go-units prints them, a subset of Go templates for --format).
 */
import { HutchError } from '../errors.js';
import { hexOf, shortId, type Digest } from './digest.js';
import { MediaType } from './media.js';
import { ImageNotKnownError, isDamaged, repoDigests, type ResolvedImage } from './store/resolve.js';
import { openUserStore, type ImageStore } from './store/store.js';
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

export interface TableOptions {
  quiet?: boolean;
  noTrunc?: boolean;
  /** `json`, or a Go template over the row ({{.Repository}}, {{.Tag}}, {{.ID}}, {{.Created}}, {{.Size}}, {{.Digest}}). */
  format?: string;
  now?: Date;
}

/** What `hutch images` prints. */
export function formatImages(images: readonly ResolvedImage[], options: TableOptions = {}): string {
  const now = options.now ?? new Date();
  const id = (image: ResolvedImage) => (options.noTrunc === true ? image.id : shortId(image.id));
  if (options.format === 'json') return `${JSON.stringify(images.map(imageJson), null, 4)}\n`;
  if (options.quiet === true) {
    const ids = [...new Set(images.map(id))];
    return ids.map((i) => `${i}\n`).join('');
  }
  const rows = imageRows(images);
  if (options.format !== undefined && options.format !== '' && options.format !== 'table') {
    return rows
      .map((row) =>
        renderTemplate(options.format as string, {
          Repository: row.repository,
          Tag: row.tag,
          ID: id(row.image),
          Id: hexOf(row.image.id),
          Digest: row.image.manifestDescriptor.digest,
          Created: created(row.image, now),
          CreatedSince: created(row.image, now),
          CreatedAt: row.image.created?.toISOString() ?? '',
          Size: humanSize(row.image.size),
          Names: row.image.names,
        }),
      )
      .join('');
  }
  return tabulate([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE'],
    ...rows.map((row) => [row.repository, row.tag, id(row.image), created(row.image, now), humanSize(row.image.size)]),
  ]);
}

function created(image: ResolvedImage, now: Date): string {
  return image.created === undefined ? 'unknown' : `${humanDuration(now.getTime() - image.created.getTime())} ago`;
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

/** podman prints inspect output indented by five spaces. */
export function formatInspect(objects: Record<string, unknown>[], format?: string): string {
  if (format === undefined || format === '' || format === 'json') return `${JSON.stringify(objects, null, 5)}\n`;
  return objects.map((o) => renderTemplate(format, o)).join('');
}

// ---------------------------------------------------------------------------
// Formatting, as podman does it

/**
 * Columns as Go's text/tabwriter lays out podman's tables (minwidth 12,
 * padding 2): every cell but the last of a row is padded to its column's width.
 */
export function tabulate(rows: string[][]): string {
  const widths: number[] = [];
  for (const row of rows) {
    row.forEach((cell, i) => {
      if (i < row.length - 1) widths[i] = Math.max(widths[i] ?? 12, cell.length + 2);
    });
  }
  return rows
    .map((row) => `${row.map((cell, i) => (i < row.length - 1 ? cell.padEnd(widths[i] ?? 12) : cell)).join('')}\n`)
    .join('');
}

/** go-units HumanSizeWithPrecision(size, 3): decimal units, three significant digits ("4.5 MB", "824 kB"). */
export function humanSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB', 'EB', 'ZB', 'YB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  return `${goPrecision3(size)} ${units[i]}`;
}

/** Go's %.3g. */
function goPrecision3(value: number): string {
  const text = value.toPrecision(3);
  const [mantissa, exponent] = text.split('e') as [string, string | undefined];
  const trimmed = mantissa.includes('.') ? mantissa.replace(/\.?0+$/, '') : mantissa;
  if (exponent === undefined) return trimmed;
  const e = Number(exponent);
  return `${trimmed}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** go-units HumanDuration: "Less than a second", "About a minute", "2 days", "3 weeks"… */
export function humanDuration(ms: number): string {
  const seconds = Math.floor(ms / 1000);
  if (seconds < 1) return 'Less than a second';
  if (seconds === 1) return '1 second';
  if (seconds < 60) return `${seconds} seconds`;
  const minutes = Math.floor(ms / 60000);
  if (minutes === 1) return 'About a minute';
  if (minutes < 60) return `${minutes} minutes`;
  const hours = Math.round(ms / 3600000);
  if (hours === 1) return 'About an hour';
  if (hours < 48) return `${hours} hours`;
  if (hours < 24 * 7 * 2) return `${Math.floor(hours / 24)} days`;
  if (hours < 24 * 30 * 2) return `${Math.floor(hours / 24 / 7)} weeks`;
  if (hours < 24 * 365 * 2) return `${Math.floor(hours / 24 / 30)} months`;
  return `${Math.floor(ms / 3600000 / 24 / 365)} years`;
}

/**
 * A subset of Go's text/template, enough for podman's --format: `{{.Field}}`,
 * `{{.A.B}}`, `{{json .A}}`, `{{.}}`, with `\n` and `\t` escapes in the
 * template. Values print as Go prints them (`[a b]`, `map[k:v]`, `<no value>`).
 * A newline ends the output when the template has none.
 */
export function renderTemplate(template: string, value: unknown): string {
  const text = template.replace(/\\n/g, '\n').replace(/\\t/g, '\t');
  const out = text.replace(
    /\{\{\s*(json\s+)?(\.[A-Za-z0-9_.]*)\s*\}\}/g,
    (_all, json: string | undefined, path: string) => {
      let current: unknown = value;
      for (const key of path.split('.').filter((k) => k !== '')) {
        current =
          current !== null && typeof current === 'object' ? (current as Record<string, unknown>)[key] : undefined;
      }
      return json !== undefined ? JSON.stringify(current ?? null) : goString(current);
    },
  );
  if (/\{\{/.test(out))
    throw new HutchError(`unsupported --format template ${JSON.stringify(template)}`, {
      hint: 'hutch understands {{.Field}}, {{.Field.Sub}} and {{json .Field}}',
    });
  return out.endsWith('\n') ? out : `${out}\n`;
}

function goString(value: unknown): string {
  if (value === undefined) return '<no value>';
  if (value === null) return '<nil>';
  if (Array.isArray(value)) return `[${value.map(goString).join(' ')}]`;
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `map[${entries.map(([k, v]) => `${k}:${goString(v)}`).join(' ')}]`;
  }
  return String(value);
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
