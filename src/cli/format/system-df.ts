// `hutch system df`: podman's summary (TYPE TOTAL ACTIVE SIZE RECLAIMABLE),
// its --verbose tables and --format.
import { shortId } from '../../image/digest.js';
import { repositoryOf, tagOf } from '../../image/store/refs.js';
import type { DiskUsage } from '../../verbs/system-df.js';
import { goHumanSize, humanDuration } from './go-units.js';
import { isJsonFormat, renderList, type ReportFormat } from './template.js';
import { tabulate } from './table.js';

/** One line of the summary, with podman's field names (dfSummary). */
export interface DfSummary {
  Type: string;
  Total: number;
  Active: number;
  RawSize: number;
  RawReclaimable: number;
  Size: string;
  Reclaimable: string;
}

export const DF_REPORT: ReportFormat = {
  name: 'df',
  type: 'system.dfSummary',
  headers: {
    Type: 'TYPE',
    Total: 'TOTAL',
    Active: 'ACTIVE',
    RawSize: 'RAW SIZE',
    RawReclaimable: 'RAW RECLAIMABLE',
    Size: 'SIZE',
    Reclaimable: 'RECLAIMABLE',
  },
};

function summary(type: string, total: number, active: number, size: number, reclaimable: number): DfSummary {
  const percent = size > 0 ? Math.round((reclaimable / size) * 100) : 0;
  return {
    Type: type,
    Total: total,
    Active: active,
    RawSize: size,
    RawReclaimable: reclaimable,
    Size: goHumanSize(size),
    Reclaimable: `${goHumanSize(reclaimable)} (${percent}%)`,
  };
}

/** podman's sums: images by row (a name each), containers by their writable layer, volumes by links. */
export function dfSummaries(usage: DiskUsage): DfSummary[] {
  const sum = (values: number[]) => values.reduce((a, b) => a + b, 0);
  const images = usage.images;
  const containers = usage.containers;
  const volumes = usage.volumes;
  return [
    summary(
      'Images',
      images.length,
      images.filter((i) => i.containers > 0).length,
      sum(images.map((i) => i.size)),
      sum(images.filter((i) => i.containers === 0).map((i) => i.size)),
    ),
    summary(
      'Containers',
      containers.length,
      containers.filter((c) => c.status === 'running').length,
      sum(containers.map((c) => c.size)),
      sum(containers.filter((c) => c.status !== 'running').map((c) => c.size)),
    ),
    summary(
      'Local Volumes',
      volumes.length,
      sum(volumes.map((v) => v.links)),
      sum(volumes.map((v) => v.size)),
      sum(volumes.filter((v) => v.links === 0).map((v) => v.size)),
    ),
  ];
}

export function formatDf(usage: DiskUsage, options: { verbose?: boolean; format?: string; now?: Date } = {}): string {
  const summaries = dfSummaries(usage);
  if (options.format !== undefined && isJsonFormat(options.format)) return `${JSON.stringify(summaries, null, 4)}\n`;
  if (options.format !== undefined && options.format !== '') {
    return renderList(options.format, summaries, DF_REPORT);
  }
  if (options.verbose !== true) {
    return tabulate([
      ['TYPE', 'TOTAL', 'ACTIVE', 'SIZE', 'RECLAIMABLE'],
      ...summaries.map((s) => [s.Type, String(s.Total), String(s.Active), s.Size, s.Reclaimable]),
    ]);
  }
  const now = options.now ?? new Date();
  const images = tabulate([
    ['REPOSITORY', 'TAG', 'IMAGE ID', 'CREATED', 'SIZE', 'SHARED SIZE', 'UNIQUE SIZE', 'CONTAINERS'],
    ...usage.images.map((i) => [
      i.name === undefined ? '<none>' : repositoryOf(i.name),
      i.name === undefined ? '<none>' : (tagOf(i.name) ?? '<none>'),
      shortId(i.image.id),
      humanDuration(now.getTime() - (i.image.created?.getTime() ?? 0)),
      goHumanSize(i.size),
      goHumanSize(i.sharedSize),
      goHumanSize(i.size - i.sharedSize),
      String(i.containers),
    ]),
  ]);
  const containers = tabulate([
    ['CONTAINER ID', 'IMAGE', 'COMMAND', 'LOCAL VOLUMES', 'SIZE', 'CREATED', 'STATUS', 'NAMES'],
    ...usage.containers.map((c) => [
      c.id.slice(0, 12),
      shortId(c.imageId),
      c.command.join(' '),
      String(c.localVolumes),
      goHumanSize(c.size),
      humanDuration(now.getTime() - c.created.getTime()),
      c.status,
      c.name,
    ]),
  ]);
  const volumes = tabulate([
    ['VOLUME NAME', 'LINKS', 'SIZE'],
    ...usage.volumes.map((v) => [v.name, String(v.links), goHumanSize(v.size)]),
  ]);
  return (
    `Images space usage:\n\n${images}\n` +
    `Containers space usage:\n\n${containers}\n` +
    `Local Volumes space usage:\n\n${volumes}`
  );
}
