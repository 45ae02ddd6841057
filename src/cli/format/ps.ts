// `hutch ps`: the containers as podman lists them (table, ids or JSON).
import { isPaused } from '../../run/cgroups/index.js';
import { healthSummary } from '../../run/container/health-log.js';
import type { Container } from '../../run/container/store.js';
import { humanDuration } from './go-units.js';
import { tabulate } from './table.js';

export function statusText(container: Container, now = Date.now()): string {
  const { state } = container;
  if (isPaused(state)) return 'Paused';
  if (state.status === 'running' && state.startedAt !== undefined) {
    const health = healthSummary({
      hasHealthcheck: container.config.options.healthcheck !== undefined,
      running: true,
      health: state.health,
    });
    return `Up ${humanDuration(now - Date.parse(state.startedAt))}${health === undefined ? '' : ` (${health})`}`;
  }
  if (state.status === 'exited' || state.status === 'stopped') {
    const when = state.finishedAt === undefined ? '' : ` ${humanDuration(now - Date.parse(state.finishedAt))} ago`;
    return `Exited (${state.exitCode ?? '?'})${when}`;
  }
  return 'Created';
}

function commandText(container: Container): string {
  const { options, imageConfig } = container.config;
  const args = [...(options.entrypoint ?? imageConfig.Entrypoint ?? []), ...(options.command ?? imageConfig.Cmd ?? [])];
  const text = args.join(' ');
  return text.length > 20 ? `${text.slice(0, 17)}...` : text;
}

export function formatPs(containers: Container[], options: { quiet?: boolean; noTrunc?: boolean } = {}): string {
  const sorted = [...containers].sort((a, b) => Date.parse(b.config.created) - Date.parse(a.config.created));
  if (options.quiet) return sorted.map((c) => `${options.noTrunc ? c.config.id : c.config.id.slice(0, 12)}\n`).join('');
  const now = Date.now();
  const rows = [['CONTAINER ID', 'IMAGE', 'COMMAND', 'CREATED', 'STATUS', 'PORTS', 'NAMES']];
  for (const c of sorted) {
    rows.push([
      options.noTrunc ? c.config.id : c.config.id.slice(0, 12),
      c.config.image.name ?? c.config.image.id.slice(7, 19),
      commandText(c),
      `${humanDuration(now - Date.parse(c.config.created))} ago`,
      statusText(c, now),
      '',
      c.config.name,
    ]);
  }
  return tabulate(rows);
}

/** podman's `ps --format json` fields. */
export function psJson(container: Container): Record<string, unknown> {
  const { config, state } = container;
  return {
    Id: config.id,
    Names: [config.name],
    Image: config.image.name ?? config.image.id,
    ImageID: config.image.id.slice(7),
    Command: [
      ...(config.options.entrypoint ?? config.imageConfig.Entrypoint ?? []),
      ...(config.options.command ?? config.imageConfig.Cmd ?? []),
    ],
    Created: Math.floor(Date.parse(config.created) / 1000),
    CreatedAt: config.created,
    State: isPaused(state) ? 'paused' : state.status,
    Status: statusText(container),
    Pid: state.status === 'running' ? state.pid : 0,
    ExitCode: state.exitCode ?? 0,
    Exited: state.status === 'exited',
    StartedAt: state.startedAt === undefined ? 0 : Math.floor(Date.parse(state.startedAt) / 1000),
    ExitedAt: state.finishedAt === undefined ? 0 : Math.floor(Date.parse(state.finishedAt) / 1000),
    Labels: config.options.labels,
    Mounts: config.options.mounts.map((m) => m.destination),
    Ports: [],
    AutoRemove: config.options.autoRemove,
  };
}
