// What the image verbs print, as podman prints it: the `hutch images` table,
// its --quiet and --format forms, and the findings of `system check`.
import { hexOf, shortId } from '../../image/digest.js';
import type { CheckReport } from '../../image/store/check.js';
import { tagOf } from '../../image/store/refs.js';
import { repoDigests, type ResolvedImage } from '../../image/store/resolve.js';
import { imageRows } from '../../verbs/images.js';
import { humanDuration, humanSize } from './go-units.js';
import { tabulate } from './table.js';
import { IMAGES_REPORT } from './reports.js';
import { renderList } from './template.js';

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
    return renderList(
      options.format,
      rows.map((row) => ({
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
      })),
      IMAGES_REPORT,
    );
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
