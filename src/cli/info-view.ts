// `hutch info`: formats what src/verbs/info.ts collected, as JSON or as
// YAML-like text where every failing check is followed by its fix.
import { HutchError } from '../errors.js';
import { describeReserve } from '../image/store/reserve.js';
import { collectHostInfo, type Check, type HostInfo } from '../verbs/info.js';
import { formatLogSize } from '../run/container/log-config.js';

export interface InfoOptions {
  format?: string;
}

type Line = string;

function check(label: string, c: Check, indent = '  '): Line[] {
  const lines = [`${indent}${label}: ${c.ok ? 'ok' : 'no'}, ${c.detail}`];
  if (!c.ok && c.fix !== undefined) lines.push(`${indent}  fix: ${c.fix}`);
  return lines;
}

const mapText = (m: { inside: number; outside: number; count: number }[]): string =>
  m.length === 0 ? 'none' : m.map((l) => `${l.inside} ${l.outside} ${l.count}`).join('; ');

const rangeText = (r: { start: number; count: number }[]): string =>
  r.length === 0 ? 'none' : r.map((x) => `${x.start}-${x.start + x.count - 1} (${x.count})`).join(', ');

/** A /proc/PID/uid_map as one line: `0 1001 1; 1 100000 65536`. */
const procMapText = (text: string | null): string =>
  text === null
    ? 'unreadable'
    : text
        .trim()
        .split('\n')
        .map((l) => l.trim().split(/\s+/).join(' '))
        .join('; ');

const sysctl = (value: number | null): string => (value === null ? 'not present' : String(value));

function gib(bytes: number): string {
  return `${(bytes / 2 ** 30).toFixed(1)} GiB`;
}

/** What bounds a container's log by default (--log-opt max-size and max-file change it per container). */
function logBound(logs: HostInfo['limits']['logs']): string {
  if (logs.maxSize === 0) {
    return 'not rotated by default, as podman (log_size_max = -1); --log-opt max-size=SIZE --log-opt max-file=N bounds one container at SIZE × N';
  }
  return `rotated at ${formatLogSize(logs.maxSize)}, ${logs.maxFiles} file${logs.maxFiles === 1 ? '' : 's'} kept`;
}

export function formatText(info: HostInfo): string {
  const { host, user, userNamespaces: userns, session, idMappings: ids, storage, rootfs, network, cgroups } = info;
  const lines: Line[] = [
    'host:',
    `  hutch: ${host.hutch}`,
    `  node: ${host.node}`,
    `  kernel: ${host.kernel}`,
    `  distribution: ${host.distribution}`,
    `  arch: ${host.arch}`,
    `  cpus: ${host.cpus}`,
    `  memory: ${gib(host.memoryBytes)}`,
    `  user: ${user.name ?? 'unknown'} (uid ${user.uid}, gid ${user.gid}), ${user.rootless ? 'rootless' : 'real root'}`,
    'user namespaces:',
    ...check('usable', userns.usable),
    `  user.max_user_namespaces: ${sysctl(userns.maxUserNamespaces)}`,
    `  kernel.unprivileged_userns_clone: ${sysctl(userns.unprivilegedUsernsClone)}`,
    `  kernel.apparmor_restrict_unprivileged_userns: ${sysctl(userns.apparmorRestrictUnprivilegedUserns)}`,
  ];
  if (!user.rootless) {
    lines.push('  session: not needed: real root runs in the host namespaces');
  } else if (!session.active) {
    lines.push('  session: none (the first command that needs one starts it)');
  } else {
    lines.push(`  session: active, holder pid ${session.pid}${session.inside ? ', this command runs inside it' : ''}`);
    if (session.inside) {
      lines.push(`  uid_map: ${procMapText(session.uidMap)}`, `  gid_map: ${procMapText(session.gidMap)}`);
    }
  }
  lines.push(
    'id mappings:',
    ...check('mappings', ids.mappings),
    `  uid: ${mapText(ids.uid)}`,
    `  gid: ${mapText(ids.gid)}`,
    `  subuid: ${rangeText(ids.subuid)}`,
    `  subgid: ${rangeText(ids.subgid)}`,
    ...check('newuidmap', ids.newuidmap),
    ...check('newgidmap', ids.newgidmap),
    'storage:',
    `  storage: ${storage.storage}`,
    `  runtime: ${storage.runtime}`,
    `  file system: ${storage.fileSystem.type} (${storage.fileSystem.path})`,
    `  disk reserve: ${'error' in storage.diskReserve ? `unknown: ${storage.diskReserve.error}` : describeReserve(storage.diskReserve)}`,
    'rootfs drivers:',
    ...rootfs.drivers.flatMap((d) => check(d.name, d)),
    `  selected: ${rootfs.selected}`,
    'network:',
    ...network.drivers.flatMap((d) => check(d.name, d)),
    `  selected: ${network.selected}`,
    `  default for run: ${network.default}${network.drivers.find((d) => d.name === network.default)?.ok === false ? ' (not usable here: give --network none, or fix it)' : ''}`,
    'cgroups:',
    `  containers: ${cgroups.drivers.find((d) => d.name === cgroups.selected)?.detail ?? 'unknown'}`,
    ...check('layout', cgroups.checks.layout),
    `  cgroup: ${cgroups.v2Dir ?? 'none'}${cgroups.v2Path === null ? '' : ` (0::${cgroups.v2Path})`}`,
    ...check('delegated', cgroups.checks.delegation),
    ...check('controllers', cgroups.checks.controllers),
    ...cgroups.drivers.flatMap((d) => check(`driver ${d.name}`, d)),
    `  selected: ${cgroups.selected}`,
    'devices:',
    ...check('/dev/net/tun', info.devices.tun),
    ...check('/dev/fuse', info.devices.fuse),
    'limits:',
    ...check('processes', info.limits.processes),
    `  container logs: ${logBound(info.limits.logs)}`,
  );
  if (info.problems.length === 0) {
    lines.push('problems: none');
  } else {
    lines.push('problems:');
    for (const p of info.problems) {
      lines.push(`  - ${p.area}: ${p.problem}`);
      if (p.fix !== undefined) lines.push(`    fix: ${p.fix}`);
    }
  }
  return `${lines.join('\n')}\n`;
}

export async function showInfo(options: InfoOptions): Promise<void> {
  const format = options.format;
  if (format !== undefined && format !== 'json') {
    throw new HutchError(`unsupported --format ${format}: use json`);
  }
  const info = await collectHostInfo(process.env);
  process.stdout.write(format === 'json' ? `${JSON.stringify(info, null, 2)}\n` : formatText(info));
}
