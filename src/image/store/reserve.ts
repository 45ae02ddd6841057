/**
 * The disk reserve: what hutch leaves free on the storage file system. Layer
 * extraction (pull, load, import, build's ADD, commit, system check's repair)
 * stops before the space an unprivileged user may still use (statfs(2)
 * f_bavail × f_bsize) falls below it, so a small gzip that inflates to
 * gigabytes cannot fill the disk. What was half written is removed by the
 * caller's usual temp-dir-then-rename pattern.
 *
 * The reserve is HUTCH_DISK_RESERVE when set (a size as podman's flags take
 * them, `512m`, `1g`, or a percentage of the file system, `5%`; `0` turns the
 * check off), else min(5% of the file system, 1 GiB). hutch has no config file
 * of its own: storage is configured by the environment (XDG_DATA_HOME), and so
 * is this.
 *
 * Checking is cheap: one statfs before a writer starts, then one whenever the
 * writers of this process have written CHECK_INTERVAL bytes more. Each check
 * demands the reserve plus CHECK_INTERVAL, the most that can be written before
 * the next check, so free space never drops below the reserve because of
 * hutch's own writes (other processes writing at the same time may still take
 * it).
 */
import { existsSync } from 'node:fs';
import { dirname } from 'node:path';
import { Transform } from 'node:stream';
import { HutchError } from '../../errors.js';
import { native, type FsStats } from '../../native.js';
import { parseBytes } from '../../units.js';

export const RESERVE_ENV = 'HUTCH_DISK_RESERVE';
/** The default: this share of the file system… */
export const DEFAULT_RESERVE_PERCENT = 5;
/** …but never more than this. */
export const DEFAULT_RESERVE_CAP = 2 ** 30;
/** Bytes written between two looks at the free space. */
export const CHECK_INTERVAL = 8 * 2 ** 20;
/**
 * What one tar entry is counted as, besides its content: an inode and a
 * directory entry. So a layer of millions of empty files is checked too.
 */
export const ENTRY_COST = 4096;

export type ReserveSetting = { kind: 'bytes'; bytes: number } | { kind: 'percent'; percent: number };

/** HUTCH_DISK_RESERVE's value: a size (parseBytes, as --memory reads one) or a percentage of the file system (`5%`, `0.5%`). */
export function parseReserve(text: string): ReserveSetting {
  const what = RESERVE_ENV;
  const percent = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(text);
  if (percent !== null) {
    const value = Number(percent[1]);
    if (!(value < 100)) throw new HutchError(`invalid ${what} ${JSON.stringify(text)}: a percentage must be below 100`);
    return { kind: 'percent', percent: value };
  }
  try {
    return { kind: 'bytes', bytes: parseBytes(text, what) };
  } catch (error) {
    throw new HutchError(
      `invalid ${what} ${JSON.stringify(text)}: expected a size (512m, 1g), a percentage (5%) or 0`,
      {
        hint: `set ${what} to a size such as 512m or 2g, a percentage of the file system such as 5%, or 0 to turn the check off`,
        cause: error,
      },
    );
  }
}

/** The reserve in bytes on a file system of fsBytes; the default when setting is undefined. */
export function computeReserve(setting: ReserveSetting | undefined, fsBytes: number): number {
  if (setting === undefined)
    return Math.min(Math.floor((fsBytes * DEFAULT_RESERVE_PERCENT) / 100), DEFAULT_RESERVE_CAP);
  if (setting.kind === 'bytes') return setting.bytes;
  return Math.floor((fsBytes * setting.percent) / 100);
}

/** Bytes for people, in binary units: `0 B`, `512 MiB`, `1 GiB`, `97.3 MiB`. */
export function formatSize(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  // 1023.96 MiB would print as 1024.0 MiB: it is 1 GiB.
  while (Math.abs(Number(value.toFixed(1))) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  const text = Number.isInteger(value) ? String(value) : value.toFixed(1).replace(/\.0$/, '');
  return `${text} ${units[unit] as string}`;
}

/** The reserve in force on a file system, and where it came from (for messages and `hutch info`). */
export interface DiskReserve {
  /** Bytes to leave free; 0: no check. */
  bytes: number;
  source: 'default' | 'environment';
  /** How it was set: `default: min(5%, 1 GiB)`, or `HUTCH_DISK_RESERVE=512m`. */
  origin: string;
}

export const DEFAULT_ORIGIN = `default: min(${DEFAULT_RESERVE_PERCENT}%, ${formatSize(DEFAULT_RESERVE_CAP)})`;

/** The reserve for a file system of fsBytes under env (throws a HutchError on a malformed HUTCH_DISK_RESERVE). */
export function reserveFor(fsBytes: number, env: NodeJS.ProcessEnv = process.env): DiskReserve {
  const value = env[RESERVE_ENV];
  if (value === undefined || value.trim() === '') {
    return { bytes: computeReserve(undefined, fsBytes), source: 'default', origin: DEFAULT_ORIGIN };
  }
  return {
    bytes: computeReserve(parseReserve(value), fsBytes),
    source: 'environment',
    origin: `${RESERVE_ENV}=${value.trim()}`,
  };
}

const fsBytes = (st: FsStats): number => st.blocks * st.blockSize;
/** What an unprivileged user may still write (f_bavail: root's reserved blocks excluded). */
const availableBytes = (st: FsStats): number => st.blocksAvailable * st.blockSize;

/** The existing directory nearest to path (path itself, or a parent): statfs needs one. */
function existingDir(path: string): string {
  let dir = path;
  while (!existsSync(dir) && dirname(dir) !== dir) dir = dirname(dir);
  return dir;
}

/**
 * The reserve in force for the store at storageDir (or the file system it
 * will be on), for `hutch info`. Reads HUTCH_DISK_RESERVE and statfs(2).
 */
export function diskReserve(storageDir: string, env: NodeJS.ProcessEnv = process.env): DiskReserve {
  return reserveFor(fsBytes(native.statfs(existingDir(storageDir))), env);
}

/** `1 GiB (default: min(5%, 1 GiB))`, `off (HUTCH_DISK_RESERVE=0)`. */
export function describeReserve(reserve: DiskReserve): string {
  return `${reserve.bytes === 0 ? 'off' : formatSize(reserve.bytes)} (${reserve.origin})`;
}

/** The reserve would be crossed: refused before writing, or stopped while writing. Exit 125. */
export class DiskReserveError extends HutchError {
  constructor(
    message: string,
    readonly available: number,
    readonly reserve: DiskReserve,
    readonly path: string,
  ) {
    const lower =
      reserve.source === 'environment'
        ? `lower ${RESERVE_ENV} (now ${reserve.origin.slice(RESERVE_ENV.length + 1)})`
        : `lower the reserve (${formatSize(reserve.bytes)} here, the ${reserve.origin}) with ` +
          `${RESERVE_ENV}=SIZE, e.g. ${RESERVE_ENV}=${Math.max(1, Math.floor(reserve.bytes / 2 / 2 ** 20))}m`;
    super(message, {
      hint:
        `free space on the file system of ${path} (hutch image prune, hutch rmi), or ${lower}; ` +
        `${RESERVE_ENV}=0 turns the check off`,
    });
    this.name = 'DiskReserveError';
  }
}

/** Counts what one writer writes; throws DiskReserveError from use() when the reserve is near. */
export interface SpaceMeter {
  /** Call BEFORE writing `bytes`; throws instead of letting the write eat into the reserve. */
  use(bytes: number): void;
}

/**
 * Free space accounting for the writers of one command on one file system
 * (pull's parallel layers share one guard, so together they write at most
 * CHECK_INTERVAL between two checks). Once a check fails, every meter of the
 * guard throws at its next use, so parallel writers stop too.
 */
export class SpaceGuard {
  /** The reserve in force on this file system, read once per command. */
  readonly reserve: DiskReserve;
  private pending = 0;
  private tripped = false;

  /**
   * @param path a directory on the file system written to (the store's)
   * @param statfs the addon's statfs(2) (tests give their own)
   */
  constructor(
    readonly path: string,
    env: NodeJS.ProcessEnv = process.env,
    private readonly statfs: (path: string) => FsStats = native.statfs,
  ) {
    this.reserve = reserveFor(fsBytes(this.statfs(path)), env);
  }

  get enabled(): boolean {
    return this.reserve.bytes > 0;
  }

  /** Bytes free for this user now (statfs f_bavail × f_bsize). */
  available(): number {
    return availableBytes(this.statfs(this.path));
  }

  /**
   * Refuses, before anything is written, what declares its size: `bytes` must
   * fit above the reserve. `what` names it (`layer sha256:…`, 12 MiB).
   */
  require(bytes: number, what: string): void {
    if (!this.enabled) return;
    const available = this.available();
    if (available - bytes >= this.reserve.bytes) return;
    throw new DiskReserveError(
      `not enough space for ${what} (${formatSize(bytes)}): ${this.standing(available)}`,
      available,
      this.reserve,
      this.path,
    );
  }

  /**
   * A meter for one writer. `what` names what it writes, as the message
   * starts: `unpacking layer sha256:…`. Checks the free space once now.
   */
  meter(what: string): SpaceMeter {
    if (!this.enabled) return { use: () => undefined };
    let written = 0;
    this.check(what, written);
    return {
      use: (bytes: number) => {
        if (this.tripped) this.stop(what, written, this.available());
        if (this.pending + bytes > CHECK_INTERVAL) {
          this.pending = 0;
          this.check(what, written, bytes);
        }
        this.pending += bytes;
        written += bytes;
      },
    };
  }

  /**
   * A meter for bytes that will be written later, not as they are counted
   * (import reads its whole input, to learn the diff id, before it unpacks
   * it): every CHECK_INTERVAL it demands that all it counted so far fit above
   * the reserve, so a layer that cannot fit is refused while it is read, not
   * minutes later. `what` is a noun: `the layer of rootfs.tar`.
   */
  forecast(what: string): SpaceMeter {
    if (!this.enabled) return { use: () => undefined };
    let counted = 0;
    let sinceCheck = 0;
    return {
      use: (bytes: number) => {
        counted += bytes;
        sinceCheck += bytes;
        if (sinceCheck < CHECK_INTERVAL) return;
        sinceCheck = 0;
        const available = this.available();
        if (available - counted >= this.reserve.bytes) return;
        throw new DiskReserveError(
          `stopped before unpacking ${what}: it is more than ${formatSize(counted)}, and ${this.standing(available)}`,
          available,
          this.reserve,
          this.path,
        );
      },
    };
  }

  /** Throws unless the next CHECK_INTERVAL bytes (or `bytes`, when more) fit above the reserve. */
  private check(what: string, written: number, bytes = 0): void {
    const available = this.available();
    if (available - Math.max(bytes, CHECK_INTERVAL) < this.reserve.bytes) this.stop(what, written, available);
  }

  private stop(what: string, written: number, available: number): never {
    this.tripped = true;
    throw new DiskReserveError(
      `${written === 0 ? `not enough space for ${what}` : `stopped ${what} after ${formatSize(written)}`}: ` +
        this.standing(available),
      available,
      this.reserve,
      this.path,
    );
  }

  /** `78.7 GiB left on PATH, 3.9 MiB above the reserve of 78.7 GiB`: close figures stay readable. */
  private standing(available: number): string {
    const margin = available - this.reserve.bytes;
    return (
      `${formatSize(available)} left on ${this.path}, ` +
      `${formatSize(Math.abs(margin))} ${margin < 0 ? 'below' : 'above'} the reserve of ${formatSize(this.reserve.bytes)}`
    );
  }
}

/**
 * A pass-through that tells meter of every chunk before passing it on, and
 * fails with the meter's DiskReserveError instead of passing on what would eat
 * into the reserve. Put it right before the writer.
 */
export function meterStream(meter: SpaceMeter): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      try {
        meter.use(chunk.length);
        callback(null, chunk);
      } catch (error) {
        callback(error as Error);
      }
    },
  });
}
