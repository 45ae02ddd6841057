/**
 * --ulimit as podman and docker take it (docker's go-units ParseUlimit):
 * `TYPE=SOFT[:HARD]`, HARD defaulting to SOFT, `-1` for as much as hutch itself
 * may have (podman's rule: the current process's hard limit), or `host` for
 * every limit hutch runs with. The container's process sets them with
 * setrlimit(2) before its credentials change (the plan's setrlimit steps).
 *
 * Without root a hard limit can only be lowered (setrlimit(2): raising it
 * needs CAP_SYS_RESOURCE in the initial user namespace, which no container
 * of a rootless user has), so a hard limit above hutch's own is refused here,
 * with the number that can be had, rather than failing in the container.
 *
 * RLIMIT_NPROC is what bounds a fork bomb where no cgroup pids controller is
 * delegated: the kernel counts the processes of the container's user (in
 * hutch's user namespace, so every container and hutch process running as
 * that user counts), and fork fails with EAGAIN past the soft limit.
 */
import { readFileSync } from 'node:fs';
import { HutchError } from '../errors.js';

/**
 * The resources by podman's names, with their numbers on Linux
 * (asm-generic/resource.h, the same on x86-64 and arm64). No `as`: docker and
 * podman refuse it too. Node exposes no RLIMIT_* constants, hence the table.
 */
export const RLIMIT_NUMBERS = {
  cpu: 0,
  fsize: 1,
  data: 2,
  stack: 3,
  core: 4,
  rss: 5,
  nproc: 6,
  nofile: 7,
  memlock: 8,
  locks: 10,
  sigpending: 11,
  msgqueue: 12,
  nice: 13,
  rtprio: 14,
  rttime: 15,
} as const;

export type UlimitName = keyof typeof RLIMIT_NUMBERS;

/** A limit in force: a number, or -1 for unlimited (RLIM_INFINITY; the plan's setrlimit takes it so). */
export type LimitValue = number;
export const UNLIMITED = -1;

/** One --ulimit as written: `max` is the `-1` of the flag (as much as hutch may have). */
export interface UlimitRequest {
  name: UlimitName;
  soft: number | 'max';
  hard: number | 'max';
}

/** What `--ulimit` flags ask for: `host` (hutch's own limits), then the given ones. */
export interface UlimitRequests {
  host: boolean;
  limits: UlimitRequest[];
}

/** A limit as a container gets it (config.json keeps these). */
export interface Ulimit {
  name: UlimitName;
  soft: LimitValue;
  hard: LimitValue;
}

const NAMES = Object.keys(RLIMIT_NUMBERS) as UlimitName[];
const SYNTAX_HINT = 'give TYPE=SOFT[:HARD], e.g. nofile=1024:2048 or nproc=512 (-1: as much as you have), or host';

function isName(name: string): name is UlimitName {
  return Object.hasOwn(RLIMIT_NUMBERS, name);
}

function parseValue(text: string, flag: string): number | 'max' {
  if (!/^-?\d+$/.test(text))
    throw new HutchError(`invalid ${flag}: ${JSON.stringify(text)} is not a number`, { hint: SYNTAX_HINT });
  const value = Number(text);
  if (value === -1) return 'max';
  if (value < 0 || !Number.isSafeInteger(value)) {
    throw new HutchError(`invalid ${flag}: ${text} is out of range`, { hint: SYNTAX_HINT });
  }
  return value;
}

/** One `--ulimit TYPE=SOFT[:HARD]` (not `host`). */
export function parseUlimit(text: string): UlimitRequest {
  const flag = `--ulimit ${text}`;
  const eq = text.indexOf('=');
  if (eq < 0) throw new HutchError(`invalid ${flag}: no TYPE=`, { hint: SYNTAX_HINT });
  const name = text.slice(0, eq);
  if (!isName(name)) {
    throw new HutchError(`invalid ${flag}: unknown limit ${JSON.stringify(name)}`, {
      hint: `the limits are ${NAMES.join(', ')}`,
    });
  }
  const values = text.slice(eq + 1).split(':');
  if (values.length > 2) throw new HutchError(`invalid ${flag}: give at most SOFT:HARD`, { hint: SYNTAX_HINT });
  const soft = parseValue(values[0] as string, flag);
  const hard = values.length === 2 ? parseValue(values[1] as string, flag) : soft;
  if (soft !== 'max' && hard !== 'max' && soft > hard) {
    throw new HutchError(`invalid ${flag}: the soft limit ${soft} is above the hard limit ${hard}`, {
      hint: 'the soft limit is the one in force; it may not be above the hard limit',
    });
  }
  return { name, soft, hard };
}

/** Every --ulimit flag, in order; a later one for the same TYPE wins. */
export function parseUlimits(flags: string[]): UlimitRequests {
  const byName = new Map<UlimitName, UlimitRequest>();
  let host = false;
  for (const flag of flags) {
    if (flag === 'host') {
      host = true;
      continue;
    }
    const request = parseUlimit(flag);
    byName.delete(request.name);
    byName.set(request.name, request);
  }
  return { host, limits: [...byName.values()] };
}

/** /proc/PID/limits: one line per resource, in RLIMIT_* order after the header (proc(5)). */
export function parseProcLimits(text: string): Map<UlimitName, { soft: LimitValue; hard: LimitValue }> {
  const byNumber = new Map<number, UlimitName>(NAMES.map((name) => [RLIMIT_NUMBERS[name], name]));
  const limits = new Map<UlimitName, { soft: LimitValue; hard: LimitValue }>();
  const lines = text.split('\n').slice(1);
  lines.forEach((line, resource) => {
    const name = byNumber.get(resource);
    const match = /^.+?\s{2,}(unlimited|\d+)\s+(unlimited|\d+)/.exec(line);
    if (name === undefined || match === null) return;
    const value = (v: string) => (v === 'unlimited' ? UNLIMITED : Number(v));
    limits.set(name, { soft: value(match[1] as string), hard: value(match[2] as string) });
  });
  return limits;
}

/** The limits this process runs with (the container's process would inherit them). */
export function currentLimits(): Map<UlimitName, { soft: LimitValue; hard: LimitValue }> {
  return parseProcLimits(readFileSync('/proc/self/limits', 'utf8'));
}

/** a ≤ b, unlimited being above every number. */
function atMost(a: LimitValue, b: LimitValue): boolean {
  if (b === UNLIMITED) return true;
  return a !== UNLIMITED && a <= b;
}

const shown = (value: LimitValue) => (value === UNLIMITED ? 'unlimited' : String(value));

/**
 * The limits a container gets: `host` copies `current` (every limit hutch runs
 * with), `-1` becomes hutch's own hard limit. Without `mayRaise` (every user
 * but real root) a hard limit above hutch's own is refused, naming the most
 * that can be had.
 */
export function resolveUlimits(
  requests: UlimitRequests,
  current: Map<UlimitName, { soft: LimitValue; hard: LimitValue }>,
  mayRaise: boolean,
): Ulimit[] {
  const resolved = new Map<UlimitName, Ulimit>();
  if (requests.host) for (const [name, limit] of current) resolved.set(name, { name, ...limit });
  for (const request of requests.limits) {
    const own = current.get(request.name);
    if (own === undefined) throw new Error(`no ${request.name} line in /proc/self/limits`);
    const soft = request.soft === 'max' ? own.hard : request.soft;
    const hard = request.hard === 'max' ? own.hard : request.hard;
    const written = `--ulimit ${request.name}=${request.soft === 'max' ? -1 : request.soft}:${request.hard === 'max' ? -1 : request.hard}`;
    if (!atMost(soft, hard)) {
      throw new HutchError(`invalid ${written}: the soft limit ${shown(soft)} is above the hard limit ${shown(hard)}`, {
        hint: 'the soft limit is the one in force; it may not be above the hard limit',
      });
    }
    if (!mayRaise && !atMost(hard, own.hard)) {
      throw new HutchError(
        `${written}: the hard limit ${shown(hard)} is above yours (${shown(own.hard)}), and only root may raise a hard limit`,
        {
          hint: `give at most ${shown(own.hard)} (or -1 for as much as you have); as root, raise yours in /etc/security/limits.conf`,
        },
      );
    }
    resolved.delete(request.name);
    resolved.set(request.name, { name: request.name, soft, hard });
  }
  return [...resolved.values()];
}

/** As podman's inspect shows them in HostConfig.Ulimits (RLIM_INFINITY as -1, the int64 it reads as). */
export function inspectUlimits(ulimits: Ulimit[] | undefined): { Name: string; Soft: number; Hard: number }[] {
  return (ulimits ?? []).map((u) => ({ Name: `RLIMIT_${u.name.toUpperCase()}`, Soft: u.soft, Hard: u.hard }));
}

/** The plan's setrlimit steps take the resource's number. */
export function rlimitSpecs(ulimits: Ulimit[] | undefined): { resource: number; soft: number; hard: number }[] {
  return (ulimits ?? []).map((u) => ({ resource: RLIMIT_NUMBERS[u.name], soft: u.soft, hard: u.hard }));
}
