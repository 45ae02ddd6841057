// `hutch ps`: the containers as podman 4.3 lists them: its table (with --size,
// --pod, --ns), ids (-q), JSON, and --format templates over rows with the
// field names of podman's ps (its psReporter), sorted by --sort.
import { containerState } from '../../run/container/filters.js';
import { healthSummary } from '../../run/container/health-log.js';
import type { Container } from '../../run/container/store.js';
import type { PortMapping } from '../../run/network/ports.js';
import type { PsEntry } from '../../verbs/ps.js';
import { humanDuration } from './go-units.js';
import { PS_REPORT } from './reports.js';
import { isJsonFormat, renderList } from './template.js';

/** Go's zero time.Time as Unix seconds: podman's StartedAt and ExitedAt for a container that never did. */
const GO_ZERO_UNIX = -62135596800;

export const PS_SORT_KEYS = ['command', 'created', 'id', 'image', 'names', 'runningfor', 'size', 'status'] as const;
export type PsSortKey = (typeof PS_SORT_KEYS)[number];

export interface PsFormatOptions {
  quiet: boolean;
  noTrunc: boolean;
  noHeading: boolean;
  /** --size, --pod, --ns: the extra columns of the default table. */
  size: boolean;
  pod: boolean;
  namespaces: boolean;
  format: string | undefined;
  sort: PsSortKey;
}

const seconds = (iso: string | undefined): number =>
  iso === undefined ? GO_ZERO_UNIX : Math.floor(Date.parse(iso) / 1000);

/** podman's State() of a row: `Up 3 minutes ago`, `Exited (137) 2 seconds ago`, `Created`, `Paused`, `Stopping`. */
export function statusText(container: Container, now = Date.now()): string {
  const { state } = container;
  const kind = containerState(container);
  if (kind === 'running') {
    const health = healthSummary({
      hasHealthcheck: container.config.options.healthcheck !== undefined,
      running: true,
      health: state.health,
    });
    const up = `Up ${humanDuration(now - Date.parse(state.startedAt ?? container.config.created))} ago`;
    return health === undefined ? up : `${up} (${health})`;
  }
  if (kind === 'exited') {
    const since = state.finishedAt ?? state.startedAt ?? container.config.created;
    return `Exited (${state.exitCode ?? 0}) ${humanDuration(now - Date.parse(since))} ago`;
  }
  return `${kind[0]?.toUpperCase() ?? ''}${kind.slice(1)}`;
}

function commandOf(container: Container): string[] {
  const { options, imageConfig } = container.config;
  return [...(options.entrypoint ?? imageConfig.Entrypoint ?? []), ...(options.command ?? imageConfig.Cmd ?? [])];
}

/** Go's time.Time.String() in local time: `2026-12-08 01:40:19.0237 +0000 UTC`. */
export function goTimeString(iso: string): string {
  const date = new Date(iso);
  const pad = (n: number, width = 2) => String(n).padStart(width, '0');
  const fraction = date.getMilliseconds() === 0 ? '' : `.${pad(date.getMilliseconds(), 3).replace(/0+$/, '')}`;
  const offset = -date.getTimezoneOffset();
  const sign = offset < 0 ? '-' : '+';
  const zoneOffset = `${sign}${pad(Math.floor(Math.abs(offset) / 60))}${pad(Math.abs(offset) % 60)}`;
  const zone =
    offset === 0
      ? 'UTC'
      : (new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' })
          .formatToParts(date)
          .find((p) => p.type === 'timeZoneName')?.value ?? zoneOffset);
  return (
    `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ` +
    `${pad(date.getHours())}:${pad(date.getMinutes())}:${pad(date.getSeconds())}${fraction} ${zoneOffset} ${zone}`
  );
}

/** A run of ports podman keeps as one mapping: `range` consecutive host and container ports. */
export interface PortRange {
  hostIp: string;
  hostPort: number;
  containerPort: number;
  protocol: string;
  range: number;
}

/** Ports as podman stores them: by host address, protocol and host port, consecutive ones joined in ranges. */
export function portRanges(ports: readonly PortMapping[]): PortRange[] {
  const sorted = [...ports].sort(
    (a, b) =>
      (a.hostIp < b.hostIp ? -1 : a.hostIp > b.hostIp ? 1 : 0) ||
      (a.protocol < b.protocol ? -1 : a.protocol > b.protocol ? 1 : 0) ||
      a.hostPort - b.hostPort,
  );
  const ranges: PortRange[] = [];
  for (const p of sorted) {
    const last = ranges.at(-1);
    if (
      last !== undefined &&
      last.hostIp === p.hostIp &&
      last.protocol === p.protocol &&
      p.hostPort === last.hostPort + last.range &&
      p.containerPort === last.containerPort + last.range
    ) {
      last.range++;
      continue;
    }
    ranges.push({
      hostIp: p.hostIp,
      hostPort: p.hostPort,
      containerPort: p.containerPort,
      protocol: p.protocol,
      range: 1,
    });
  }
  return ranges;
}

/** The PORTS column: `0.0.0.0:8080->80/tcp, 127.0.0.1:9000-9001->9000-9001/udp`. */
export function portsText(ports: readonly PortMapping[]): string {
  return portRanges(ports)
    .map((r) => {
      const ip = r.hostIp === '' ? '0.0.0.0' : r.hostIp;
      if (r.range === 1) return `${ip}:${r.hostPort}->${r.containerPort}/${r.protocol}`;
      const end = (start: number) => `${start}-${start + r.range - 1}`;
      return `${ip}:${end(r.hostPort)}->${end(r.containerPort)}/${r.protocol}`;
    })
    .join(', ');
}

/** go-units HumanSizeWithPrecision as podman's ps prints sizes: `12B`, `1.98MB` (no space). */
function compactSize(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB', 'PB'];
  let size = bytes;
  let i = 0;
  while (size >= 1000 && i < units.length - 1) {
    size /= 1000;
    i++;
  }
  const text = size.toPrecision(3);
  return `${text.includes('.') ? text.replace(/\.?0+$/, '') : text}${units[i]}`;
}

function namespacesRow(entry: PsEntry): Record<string, string> {
  const ns = entry.namespaces;
  return {
    Cgroup: ns?.cgroup ?? '',
    IPC: ns?.ipc ?? '',
    MNT: ns?.mnt ?? '',
    NET: ns?.net ?? '',
    PIDNS: ns?.pid ?? '',
    User: ns?.user ?? '',
    UTS: ns?.uts ?? '',
  };
}

/** One row for --format templates, with the fields of podman's ps. */
export function psRow(entry: PsEntry, options: { noTrunc: boolean }, now = Date.now()): Record<string, unknown> {
  const { container } = entry;
  const { config, state } = container;
  const command = commandOf(container).join(' ');
  const running = state.status === 'running';
  const ago = `${humanDuration(now - Date.parse(config.created))} ago`;
  const status = statusText(container, now);
  const namespaces = namespacesRow(entry);
  return {
    ID: options.noTrunc ? config.id : config.id.slice(0, 12),
    Image: config.image.name ?? config.image.id.slice('sha256:'.length, 'sha256:'.length + 12),
    ImageID: options.noTrunc ? config.image.id.slice('sha256:'.length) : config.image.id.slice(7, 19),
    Command: options.noTrunc || command.length <= 20 ? command : `${command.slice(0, 17)}...`,
    Created: goTimeString(config.created),
    CreatedAt: goTimeString(config.created),
    CreatedHuman: ago,
    RunningFor: ago,
    Status: status,
    State: status,
    Ports: portsText(entry.ports),
    Names: config.name,
    Labels: config.options.labels,
    Mounts: config.options.mounts.map((m) => m.destination),
    Networks: entry.networks.join(','),
    Size:
      entry.size === undefined
        ? ''
        : `${compactSize(entry.size.rwSize)} (virtual ${compactSize(entry.size.rootFsSize)})`,
    Pod: '',
    PodName: '',
    Pid: running ? state.pid : 0,
    ExitCode: state.exitCode ?? 0,
    Exited: containerState(container) === 'exited',
    ExitedAt: seconds(state.finishedAt),
    StartedAt: seconds(state.startedAt),
    AutoRemove: config.options.autoRemove,
    IsInfra: false,
    Namespaces: namespaces,
    ...namespaces,
  };
}

/** podman's headings where the field name does not give them. */

/** The fields of a row (psRow), for the headings of a table template. */
export const PS_FIELDS = [
  'ID',
  'Image',
  'ImageID',
  'Command',
  'Created',
  'CreatedAt',
  'CreatedHuman',
  'RunningFor',
  'Status',
  'State',
  'Ports',
  'Names',
  'Labels',
  'Mounts',
  'Networks',
  'Size',
  'Pod',
  'PodName',
  'Pid',
  'ExitCode',
  'Exited',
  'ExitedAt',
  'StartedAt',
  'AutoRemove',
  'IsInfra',
] as const;

/** The namespace fields, under .Namespaces and beside the others (podman embeds the struct). */
export const PS_NAMESPACE_FIELDS = ['Cgroup', 'IPC', 'MNT', 'NET', 'PIDNS', 'User', 'UTS'] as const;

/** podman's psReporter sorts (sort.Sort over rows oldest first): ascending, ties kept in that order. */
export function sortPs(entries: readonly PsEntry[], key: PsSortKey): PsEntry[] {
  const by: Record<PsSortKey, (e: PsEntry) => string | number> = {
    command: (e) => commandOf(e.container).join(' '),
    created: (e) => Date.parse(e.container.config.created),
    id: (e) => e.container.config.id,
    image: (e) => e.container.config.image.name ?? '',
    names: (e) => e.container.config.name,
    runningfor: (e) => seconds(e.container.state.startedAt),
    size: (e) => e.size?.rootFsSize ?? 0,
    status: (e) => containerState(e.container),
  };
  const value = by[key];
  return [...entries].sort((a, b) => {
    const x = value(a);
    const y = value(b);
    return x < y ? -1 : x > y ? 1 : 0;
  });
}

function defaultTemplate(options: PsFormatOptions): string {
  if (options.namespaces) {
    return '{{.ID}}\t{{.Names}}\t{{.Pid}}\t{{.Namespaces.Cgroup}}\t{{.Namespaces.IPC}}\t{{.Namespaces.MNT}}\t{{.Namespaces.NET}}\t{{.Namespaces.PIDNS}}\t{{.Namespaces.User}}\t{{.Namespaces.UTS}}';
  }
  let template = '{{.ID}}\t{{.Image}}\t{{.Command}}\t{{.CreatedHuman}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}';
  if (options.pod) template += '\t{{.Pod}}\t{{.PodName}}';
  if (options.size) template += '\t{{.Size}}';
  return template;
}

/** podman's `ps --format json` object for one container (its ListContainer). */
export function psJson(entry: PsEntry, now = Date.now()): Record<string, unknown> {
  const { container } = entry;
  const { config, state } = container;
  const labels = config.options.labels;
  const ns = entry.namespaces;
  const ports = portRanges(entry.ports);
  return {
    AutoRemove: config.options.autoRemove,
    Command: commandOf(container),
    CreatedAt: `${humanDuration(now - Date.parse(config.created))} ago`,
    Exited: containerState(container) === 'exited',
    ExitedAt: seconds(state.finishedAt),
    ExitCode: state.exitCode ?? 0,
    Id: config.id,
    Image: config.image.name ?? config.image.id,
    ImageID: config.image.id.slice('sha256:'.length),
    IsInfra: false,
    Labels: Object.keys(labels).length === 0 ? null : labels,
    Mounts: config.options.mounts.map((m) => m.destination),
    Names: [config.name],
    Namespaces:
      ns === undefined
        ? {}
        : { Cgroup: ns.cgroup, IPC: ns.ipc, MNT: ns.mnt, NET: ns.net, PIDNS: ns.pid, User: ns.user, UTS: ns.uts },
    Networks: entry.networks,
    Pid: state.status === 'running' ? state.pid : 0,
    Pod: '',
    PodName: '',
    Ports:
      ports.length === 0
        ? null
        : ports.map((r) => ({
            host_ip: r.hostIp,
            container_port: r.containerPort,
            host_port: r.hostPort,
            range: r.range,
            protocol: r.protocol,
          })),
    Size: entry.size === undefined ? null : { RwSize: entry.size.rwSize, RootFsSize: entry.size.rootFsSize },
    StartedAt: seconds(state.startedAt),
    State: containerState(container),
    Status: statusText(container, now),
    Created: seconds(config.created),
  };
}

/** What `hutch ps` prints for these containers (in the verb's order: oldest first). */
export function formatPs(entries: readonly PsEntry[], options: PsFormatOptions, now = Date.now()): string {
  const sorted = sortPs(entries, options.sort);
  if (options.quiet) {
    return sorted
      .map((e) => `${options.noTrunc ? e.container.config.id : e.container.config.id.slice(0, 12)}\n`)
      .join('');
  }
  const format = options.format?.trim() ?? '';
  if (isJsonFormat(format))
    return `${JSON.stringify(
      sorted.map((e) => psJson(e, now)),
      null,
      2,
    )}\n`;
  const rows = sorted.map((e) => psRow(e, { noTrunc: options.noTrunc }, now));
  // Nothing, or `table` alone: podman's own table.
  const template = format === '' || format === 'table' ? `table ${defaultTemplate(options)}` : format;
  return renderList(template, rows, PS_REPORT, { noHeading: options.noHeading });
}
