// `hutch images`: the table, ids, JSON or --format template podman prints.
import { hexOf, shortId } from '../../image/digest.js';
import { imageJson, imageRows } from '../../image/images.js';
import type { ResolvedImage } from '../../image/store/store.js';
import { humanDuration, humanSize } from './go-units.js';
import { tabulate } from './table.js';
import { renderTemplate } from './template.js';

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
