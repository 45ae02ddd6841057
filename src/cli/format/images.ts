// What the image verbs print, as podman prints it: the `hutch images` table,
// its --quiet, --format and json forms, and the findings of `system check`.
import { hexOf, shortId } from '../../image/digest.js';
import type { CheckReport } from '../../image/store/check.js';
import { repositoryOf, tagOf } from '../../image/store/refs.js';
import { repoDigests } from '../../image/store/resolve.js';
import type { ImageSummary } from '../../verbs/images.js';
import { GO_ZERO_TIME, humanDuration, humanSize } from './go-units.js';
import { IMAGES_REPORT } from './reports.js';
import { isJsonFormat, renderList } from './template.js';
import { tabulate } from './table.js';

export const IMAGE_SORT_KEYS = ['created', 'id', 'repository', 'size', 'tag'] as const;
export type ImageSortKey = (typeof IMAGE_SORT_KEYS)[number];

export interface ImagesOptions {
  quiet?: boolean;
  noTrunc?: boolean;
  noHeading?: boolean;
  digests?: boolean;
  /** The name history column (podman's --history). */
  history?: boolean;
  sort?: ImageSortKey;
  /** `json`, or a Go template over an image row (podman's field names), `table …` for a table. */
  format?: string;
  now?: Date;
}

/** One line of `hutch images`: an image under one of its names (podman's imageReporter). */
export interface ImageRow {
  repository: string;
  tag: string;
  summary: ImageSummary;
}

/**
 * podman's rows: one per tagged name; an image without one shows once, under
 * its first name's repository with tag <none>, or as <none> <none>.
 */
export function imageRows(images: readonly ImageSummary[]): ImageRow[] {
  return images.flatMap((summary) => {
    const { names } = summary.image;
    const tagged = names.filter((n) => tagOf(n) !== undefined);
    if (tagged.length > 0)
      return tagged.map((n) => ({ repository: repositoryOf(n), tag: tagOf(n) as string, summary }));
    const first = names[0];
    return [{ repository: first === undefined ? '<none>' : repositoryOf(first), tag: '<none>', summary }];
  });
}

const createdMs = (row: ImageRow) => row.summary.image.created?.getTime() ?? 0;

/** Sorts rows as `images --sort` does (created: newest first; the others ascending). */
export function sortImageRows(rows: ImageRow[], key: ImageSortKey = 'created'): ImageRow[] {
  const compare: Record<ImageSortKey, (a: ImageRow, b: ImageRow) => number> = {
    created: (a, b) => createdMs(b) - createdMs(a),
    id: (a, b) => cmp(a.summary.image.id, b.summary.image.id),
    repository: (a, b) => cmp(a.repository, b.repository),
    size: (a, b) => a.summary.image.size - b.summary.image.size,
    tag: (a, b) => cmp(a.tag, b.tag),
  };
  return [...rows].sort(compare[key]);
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Go's time.Time.String() of a UTC time: `2026-12-08 01:38:32 +0000 UTC`. */
export function goTimeString(date: Date): string {
  const iso = date.toISOString();
  const fraction = iso.slice(20, 23).replace(/0+$/, '');
  return `${iso.slice(0, 10)} ${iso.slice(11, 19)}${fraction === '' ? '' : `.${fraction}`} +0000 UTC`;
}

const zeroTime = '0001-01-01 00:00:00 +0000 UTC';

function ago(date: Date | undefined, now: Date): string {
  // podman: whole seconds (Unix time), the zero time for an image without a date.
  const then = date === undefined ? GO_ZERO_TIME : createdSeconds(date).getTime();
  return `${humanDuration(now.getTime() - then)} ago`;
}

/** The object a --format template sees for one row: podman's field names and values. */
export function imageTemplateRow(row: ImageRow, options: { noTrunc?: boolean; now?: Date } = {}): object {
  const { image } = row.summary;
  const now = options.now ?? new Date();
  const created = ago(image.created, now);
  const createdAt = image.created === undefined ? zeroTime : goTimeString(createdSeconds(image.created));
  return {
    Repository: row.repository,
    Tag: row.tag,
    ID: options.noTrunc === true ? image.id : shortId(image.id),
    Id: hexOf(image.id),
    ParentId: row.summary.parent === undefined ? '' : hexOf(row.summary.parent.id),
    RepoTags: image.names,
    RepoDigests: repoDigests(image),
    Created: created,
    CreatedSince: created,
    CreatedAt: createdAt,
    CreatedTime: createdAt,
    Size: humanSize(image.size),
    SharedSize: 0,
    VirtualSize: image.size,
    Labels: image.config.config?.Labels ?? {},
    Containers: row.summary.containers,
    ReadOnly: row.summary.readOnly,
    IsReadOnly: row.summary.readOnly,
    Dangling: row.summary.dangling,
    Names: image.names,
    Digest: image.manifestDescriptor.digest,
    History: image.namesHistory.join(', '),
  };
}

/** podman keeps whole seconds of an image's creation (ImageSummary.Created is Unix seconds). */
function createdSeconds(date: Date): Date {
  return new Date(Math.floor(date.getTime() / 1000) * 1000);
}

/** What `hutch images` prints. */
export function formatImages(images: readonly ImageSummary[], options: ImagesOptions = {}): string {
  const now = options.now ?? new Date();
  const rows = sortImageRows(imageRows(images), options.sort);
  if (options.format !== undefined && isJsonFormat(options.format))
    return `${JSON.stringify(rows.map(imageJson), null, 4)}\n`;
  const id = (row: ImageRow) => (options.noTrunc === true ? row.summary.image.id : shortId(row.summary.image.id));
  if (options.quiet === true) return [...new Set(rows.map(id))].map((i) => `${i}\n`).join('');
  if (options.format !== undefined && options.format !== '') {
    return renderList(
      options.format,
      rows.map((row) => imageTemplateRow(row, { noTrunc: options.noTrunc, now })),
      IMAGES_REPORT,
      { noHeading: options.noHeading === true },
    );
  }
  const header = ['REPOSITORY', 'TAG'];
  if (options.digests === true) header.push('DIGEST');
  header.push('IMAGE ID', 'CREATED', 'SIZE');
  if (options.history === true) header.push('HISTORY');
  const lines = rows.map((row) => {
    const { image } = row.summary;
    const cells = [row.repository, row.tag];
    if (options.digests === true) cells.push(image.manifestDescriptor.digest);
    cells.push(id(row), ago(image.created, now), humanSize(image.size));
    if (options.history === true)
      cells.push(image.namesHistory.length === 0 ? '<none>' : image.namesHistory.join(', '));
    return cells;
  });
  return tabulate(options.noHeading === true ? lines : [header, ...lines]);
}

/** podman's `images --format json` object for one row (the fields of entities.ImageSummary, in its order). */
export function imageJson(row: ImageRow): Record<string, unknown> {
  const { image, summary } = { image: row.summary.image, summary: row.summary };
  const created = image.created === undefined ? undefined : createdSeconds(image.created);
  return {
    Id: hexOf(image.id),
    ParentId: summary.parent === undefined ? '' : hexOf(summary.parent.id),
    // podman's list clears it (the rows carry the tags).
    RepoTags: null,
    RepoDigests: repoDigests(image),
    Size: image.size,
    SharedSize: 0,
    VirtualSize: image.size,
    Labels: image.config.config?.Labels ?? null,
    Containers: summary.containers,
    ...(summary.readOnly ? { ReadOnly: true } : {}),
    ...(summary.dangling ? { Dangling: true } : {}),
    ...(image.names.length === 0 ? {} : { Names: image.names }),
    Digest: image.manifestDescriptor.digest,
    ...(image.namesHistory.length === 0 ? {} : { History: image.namesHistory }),
    Created: created === undefined ? 0 : created.getTime() / 1000,
    CreatedAt: created?.toISOString().replace(/\.000Z$/, 'Z') ?? '0001-01-01T00:00:00Z',
  };
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
