/**
 * `hutch top CONTAINER [DESCRIPTOR…]`: the container's processes as podman's
 * psgo lists them, read from /proc in the session: every process whose pid
 * namespace (/proc/PID/ns/pid) is the container's, with pids as the container
 * sees them (the last NSpid of /proc/PID/status), users as its /etc/passwd
 * names them. Default columns: USER PID PPID %CPU ELAPSED TTY TIME COMMAND.
 *
 * Descriptors psgo does not know make podman run ps(1) in the container with
 * them as arguments; hutch does the same through an exec session.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../../errors.js';
import { tabulate } from '../../image/images.js';
import { parseIdMap } from '../../host/identity.js';
import { execInContainer } from './exec.js';
import { openRuntime, type Runtime } from './lifecycle.js';
import { readInRoot } from './spec-builder.js';
import type { Container } from './store.js';
import { parseGroup, parsePasswd } from './user.js';

/** sysconf(_SC_CLK_TCK): 100 on every Linux architecture hutch runs on. */
const CLOCK_TICKS = 100;

export interface ProcessInfo {
  hostPid: number;
  pid: number;
  ppid: number;
  pgid: number;
  /** Real and effective uid and gid, as the container sees them. */
  uid: number;
  euid: number;
  gid: number;
  egid: number;
  hostUid: number;
  hostGid: number;
  /** Seconds since it started, and of CPU used. */
  elapsed: number;
  cpu: number;
  nice: number;
  state: string;
  ttyNr: number;
  vszKiB: number;
  rssKiB: number;
  comm: string;
  args: string[];
}

interface Descriptor {
  header: string;
  value: (p: ProcessInfo, names: Names) => string;
}

interface Names {
  user(uid: number): string;
  group(gid: number): string;
}

/** Go's time.Duration.String(). */
export function goDuration(seconds: number): string {
  const ns = Math.round(seconds * 1e9);
  if (ns === 0) return '0s';
  if (ns < 1000) return `${ns}ns`;
  const fraction = (value: number, digits: number) => {
    const text = value.toFixed(digits).replace(/\.?0+$/, '');
    return text;
  };
  if (ns < 1e6) return `${fraction(ns / 1e3, 3)}µs`;
  if (ns < 1e9) return `${fraction(ns / 1e6, 6)}ms`;
  const hours = Math.floor(ns / 3.6e12);
  const minutes = Math.floor((ns % 3.6e12) / 6e10);
  const secs = fraction((ns % 6e10) / 1e9, 9);
  if (hours > 0) return `${hours}h${minutes}m${secs}s`;
  if (minutes > 0) return `${minutes}m${secs}s`;
  return `${secs}s`;
}

function ttyName(ttyNr: number): string {
  if (ttyNr === 0) return '?';
  const major = (ttyNr >> 8) & 0xfff;
  const minor = (ttyNr & 0xff) | ((ttyNr >> 12) & 0xfff00);
  if (major >= 136 && major <= 143) return `pts/${minor + (major - 136) * 256}`;
  if (major === 4) return `tty${minor}`;
  if (major === 5 && minor === 1) return 'console';
  return '?';
}

/** psgo's descriptors (the normal names), in the columns podman prints. */
const DESCRIPTORS: Record<string, Descriptor> = {
  args: { header: 'COMMAND', value: (p) => (p.args.length > 0 ? p.args.join(' ') : `[${p.comm}]`) },
  comm: { header: 'COMMAND', value: (p) => p.comm },
  etime: { header: 'ELAPSED', value: (p) => goDuration(p.elapsed) },
  group: { header: 'GROUP', value: (p, n) => n.group(p.egid) },
  hgroup: { header: 'HGROUP', value: (p) => String(p.hostGid) },
  hpid: { header: 'HPID', value: (p) => String(p.hostPid) },
  huser: { header: 'HUSER', value: (p) => String(p.hostUid) },
  nice: { header: 'NI', value: (p) => String(p.nice) },
  pcpu: { header: '%CPU', value: (p) => (p.elapsed > 0 ? ((p.cpu / p.elapsed) * 100).toFixed(3) : '0.000') },
  pgid: { header: 'PGID', value: (p) => String(p.pgid) },
  pid: { header: 'PID', value: (p) => String(p.pid) },
  ppid: { header: 'PPID', value: (p) => String(p.ppid) },
  rgroup: { header: 'RGROUP', value: (p, n) => n.group(p.gid) },
  rss: { header: 'RSS', value: (p) => String(p.rssKiB) },
  ruser: { header: 'RUSER', value: (p, n) => n.user(p.uid) },
  state: { header: 'STATE', value: (p) => p.state },
  time: { header: 'TIME', value: (p) => goDuration(p.cpu) },
  tty: { header: 'TTY', value: (p) => ttyName(p.ttyNr) },
  user: { header: 'USER', value: (p, n) => n.user(p.euid) },
  vsz: { header: 'VSZ', value: (p) => String(p.vszKiB) },
};

const DEFAULT_DESCRIPTORS = ['user', 'pid', 'ppid', 'pcpu', 'etime', 'tty', 'time', 'args'];

/** Descriptors as given (separated by blanks or commas); undefined when one is not psgo's. */
export function parseDescriptors(words: readonly string[]): string[] | undefined {
  const names = words.flatMap((w) => w.split(/[\s,]+/)).filter((w) => w !== '');
  if (names.length === 0) return DEFAULT_DESCRIPTORS;
  return names.every((n) => DESCRIPTORS[n] !== undefined) ? names : undefined;
}

function nsInode(pid: number): string | undefined {
  try {
    const stat = statSync(`/proc/${pid}/ns/pid`);
    return `${stat.dev}:${stat.ino}`;
  } catch {
    return undefined;
  }
}

interface Raw {
  hostPid: number;
  hostPpid: number;
  nsPid: number;
  hostPgid: number;
  ids: { uid: number[]; gid: number[] };
  startTicks: number;
  cpuTicks: number;
  nice: number;
  state: string;
  ttyNr: number;
  vszKiB: number;
  rssKiB: number;
  comm: string;
  args: string[];
}

function readProcess(pid: number): Raw | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
    // Fields from 3 (state) on, after the command name.
    const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const line = (key: string) => new RegExp(`^${key}:\\s*(.*)$`, 'm').exec(status)?.[1]?.trim().split(/\s+/) ?? [];
    const nsPids = line('NSpid').map(Number);
    const cmdline = readFileSync(`/proc/${pid}/cmdline`, 'latin1');
    const args = cmdline === '' ? [] : Buffer.from(cmdline, 'latin1').toString('utf8').replace(/\0$/, '').split('\0');
    return {
      hostPid: pid,
      hostPpid: Number(f[1]),
      hostPgid: Number(f[2]),
      nsPid: nsPids.at(-1) ?? pid,
      ids: { uid: line('Uid').map(Number), gid: line('Gid').map(Number) },
      startTicks: Number(f[19]),
      cpuTicks: Number(f[11]) + Number(f[12]),
      nice: Number(f[16]),
      state: f[0] ?? '?',
      ttyNr: Number(f[4]),
      vszKiB: Math.floor(Number(f[20]) / 1024),
      rssKiB: Number(line('VmRSS')[0] ?? 0),
      comm,
      args,
    };
  } catch {
    return undefined; // exited while we looked
  }
}

/** Maps ids as this process sees them to ids inside the container's user namespace. */
function idMapper(containerPid: number, kind: 'uid' | 'gid'): (id: number) => number {
  try {
    const own = statSync('/proc/self/ns/user');
    const theirs = statSync(`/proc/${containerPid}/ns/user`);
    if (own.dev === theirs.dev && own.ino === theirs.ino) return (id) => id;
    const ranges = parseIdMap(readFileSync(`/proc/${containerPid}/${kind}_map`, 'utf8'));
    return (id) => {
      const range = ranges.find((r) => id >= r.outside && id < r.outside + r.count);
      return range === undefined ? 65534 : range.inside + (id - range.outside);
    };
  } catch {
    return (id) => id;
  }
}

/**
 * Seconds since boot, the clock of /proc/PID/stat's start times: the monotonic
 * clock in nanoseconds (as precise as psgo's elapsed times) unless the machine
 * was suspended, when it lags /proc/uptime (10 ms steps, boot time included).
 */
function bootClock(): number {
  const uptime = Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]);
  const monotonic = Number(process.hrtime.bigint()) / 1e9;
  return Math.abs(monotonic - uptime) < 1 ? monotonic : uptime;
}

/** The processes in the container's pid namespace, pids as it sees them, by pid. */
export function containerProcesses(container: Container): ProcessInfo[] {
  const target = nsInode(container.state.pid);
  if (target === undefined) return [];
  const raws: Raw[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const pid = Number(name);
    if (nsInode(pid) !== target) continue;
    const raw = readProcess(pid);
    if (raw !== undefined) raws.push(raw);
  }
  const nsPidOf = new Map(raws.map((r) => [r.hostPid, r.nsPid]));
  const now = bootClock();
  const uidOf = idMapper(container.state.pid, 'uid');
  const gidOf = idMapper(container.state.pid, 'gid');
  return raws
    .map((r) => ({
      hostPid: r.hostPid,
      pid: r.nsPid,
      ppid: nsPidOf.get(r.hostPpid) ?? 0,
      pgid: nsPidOf.get(r.hostPgid) ?? 0,
      uid: uidOf(r.ids.uid[0] ?? 0),
      euid: uidOf(r.ids.uid[1] ?? 0),
      gid: gidOf(r.ids.gid[0] ?? 0),
      egid: gidOf(r.ids.gid[1] ?? 0),
      hostUid: r.ids.uid[1] ?? 0,
      hostGid: r.ids.gid[1] ?? 0,
      elapsed: Math.max(0, now - r.startTicks / CLOCK_TICKS),
      cpu: r.cpuTicks / CLOCK_TICKS,
      nice: r.nice,
      state: r.state,
      ttyNr: r.ttyNr,
      vszKiB: r.vszKiB,
      rssKiB: r.rssKiB,
      comm: r.comm,
      args: r.args,
    }))
    .sort((a, b) => a.pid - b.pid);
}

function namesFor(container: Container): Names {
  const rootfs = join(container.dir, 'merged');
  const passwd = parsePasswd(readInRoot(rootfs, '/etc/passwd') ?? '');
  const groups = parseGroup(readInRoot(rootfs, '/etc/group') ?? '');
  return {
    user: (uid) => passwd.find((e) => e.uid === uid)?.name ?? String(uid),
    group: (gid) => groups.find((g) => g.gid === gid)?.name ?? String(gid),
  };
}

export function formatTop(processes: ProcessInfo[], descriptors: string[], names: Names): string {
  const columns = descriptors.map((d) => DESCRIPTORS[d] as Descriptor);
  return tabulate([columns.map((c) => c.header), ...processes.map((p) => columns.map((c) => c.value(p, names)))]);
}

function requireRunning(container: Container): void {
  if (container.state.status !== 'running') throw new HutchError('top can only be used on running containers');
}

/** `hutch top`: returns the status to exit with (that of ps(1) when it ran in the container). */
export async function topVerb(name: string, words: string[], env: NodeJS.ProcessEnv = process.env): Promise<number> {
  const runtime: Runtime = await openRuntime(env);
  const container = runtime.containers.find(name);
  requireRunning(container);
  const descriptors = parseDescriptors(words);
  if (descriptors === undefined) {
    return execInContainer(runtime, container, {
      command: ['ps', ...words],
      interactive: false,
      tty: false,
      detach: false,
      user: undefined,
      workdir: undefined,
      privileged: false,
      extraEnv: [],
    });
  }
  process.stdout.write(formatTop(containerProcesses(container), descriptors, namesFor(container)));
  return 0;
}
