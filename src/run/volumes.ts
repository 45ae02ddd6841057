/**
 * Named volumes, as podman's "local" driver keeps them:
 *
 *   <storage>/volumes/<name>/_data        what containers see (bind-mounted)
 *   <storage>/volumes/<name>/volume.json  {name, createdAt, labels, options, anonymous}
 *
 * A volume appears by one rename (renameat2 RENAME_NOREPLACE) of a complete
 * temp directory, so its presence means it is whole, and two commands that
 * create it at once agree on one. Names follow podman: [a-zA-Z0-9][a-zA-Z0-9_.-]*.
 * Every function runs inside the session (volumes may hold files of
 * subordinate ids); the CLI (the lead's src/cli) prints what they return.
 *
 * Output shapes, as podman 4 prints them:
 *   volume create [NAME]      prints the name
 *   volume ls                 "DRIVER      VOLUME NAME" then "local       NAME" per volume (name order);
 *                             --format json: the VolumeInspect array; -q: names only
 *   volume inspect NAME…      a JSON array of VolumeInspect (4-space indent, as podman)
 *   volume rm NAME…           prints each name removed; missing: `no volume with name "X" found: no such volume`
 *                             (exit 1); in use without --force: exit 2
 *   volume prune              prints the names removed
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../errors.js';
import { acquireLock } from '../fs/lock.js';
import { AT_FDCWD, native, RENAME_NOREPLACE } from '../native.js';
import { removeTree } from '../fs/remove-tree.js';

const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

/** What volume.json records. */
export interface VolumeRecord {
  name: string;
  /** RFC 3339. */
  createdAt: string;
  labels: Record<string, string>;
  options: Record<string, string>;
  /** Made for a `-v /dst` without a name (removed with its container by --rm). */
  anonymous: boolean;
}

/** podman volume inspect's fields. */
export interface VolumeInspect {
  Name: string;
  Driver: 'local';
  Mountpoint: string;
  CreatedAt: string;
  Labels: Record<string, string>;
  Scope: 'local';
  Options: Record<string, string>;
  MountCount: number;
  NeedsCopyUp: boolean;
  NeedsChown: boolean;
  Anonymous: boolean;
}

/** Which containers use a volume (the container store answers; none when omitted). */
export type VolumeUsers = (name: string) => string[];

export function volumesDir(storage: string): string {
  return join(storage, 'volumes');
}

/** The directory containers mount for the volume. */
export function volumeMountpoint(storage: string, name: string): string {
  return join(volumesDir(storage), name, '_data');
}

export function checkVolumeName(name: string): void {
  if (!NAME.test(name)) {
    throw new HutchError(`invalid volume name ${JSON.stringify(name)}: names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*`);
  }
}

function lockPath(storage: string): string {
  return join(storage, 'locks', 'volumes.lock');
}

async function withLock<T>(storage: string, fn: () => T | Promise<T>): Promise<T> {
  mkdirSync(join(storage, 'locks'), { recursive: true, mode: 0o755 });
  const release = await acquireLock(lockPath(storage));
  try {
    return await fn();
  } finally {
    release();
  }
}

function noSuchVolume(name: string): HutchError {
  return new HutchError(`no volume with name ${JSON.stringify(name)} found: no such volume`, { exitCode: 1 });
}

function readRecord(storage: string, name: string): VolumeRecord | undefined {
  const dir = join(volumesDir(storage), name);
  try {
    if (!statSync(join(dir, '_data')).isDirectory()) return undefined;
  } catch {
    return undefined;
  }
  try {
    const value = JSON.parse(readFileSync(join(dir, 'volume.json'), 'utf8')) as Partial<VolumeRecord>;
    return {
      name,
      createdAt: typeof value.createdAt === 'string' ? value.createdAt : statSync(dir).mtime.toISOString(),
      labels: value.labels ?? {},
      options: value.options ?? {},
      anonymous: value.anonymous === true,
    };
  } catch {
    return { name, createdAt: statSync(dir).mtime.toISOString(), labels: {}, options: {}, anonymous: false };
  }
}

function inspectOf(storage: string, record: VolumeRecord, users: VolumeUsers | undefined): VolumeInspect {
  return {
    Name: record.name,
    Driver: 'local',
    Mountpoint: volumeMountpoint(storage, record.name),
    CreatedAt: record.createdAt,
    Labels: record.labels,
    Scope: 'local',
    Options: record.options,
    MountCount: users?.(record.name).length ?? 0,
    NeedsCopyUp: false,
    NeedsChown: false,
    Anonymous: record.anonymous,
  };
}

export interface CreateVolumeOptions {
  /** undefined: a random 64-hex name (an anonymous volume, as podman names them). */
  name?: string;
  labels?: Record<string, string>;
  /** podman's -o: the local driver's type/device/o; hutch supports none yet. */
  options?: Record<string, string>;
  /** Return the existing volume instead of failing (podman's --ignore). */
  ignoreIfExists?: boolean;
  anonymous?: boolean;
}

/**
 * Creates a volume; `volume with name X already exists: volume already exists`
 * when it does (unless ignoreIfExists). Idempotent under races: one rename wins.
 */
export async function createVolume(storage: string, options: CreateVolumeOptions = {}): Promise<VolumeInspect> {
  const name = options.name ?? randomBytes(32).toString('hex');
  checkVolumeName(name);
  const unsupported = Object.keys(options.options ?? {});
  if (unsupported.length > 0) {
    throw new HutchError(
      `volume option ${JSON.stringify(unsupported[0])} is not supported: hutch volumes are plain directories`,
    );
  }
  const dir = volumesDir(storage);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const existing = readRecord(storage, name);
  if (existing !== undefined) {
    if (options.ignoreIfExists === true) return inspectOf(storage, existing, undefined);
    throw new HutchError(`volume with name ${name} already exists: volume already exists`);
  }
  const record: VolumeRecord = {
    name,
    createdAt: new Date().toISOString(),
    labels: options.labels ?? {},
    options: {},
    anonymous: options.anonymous ?? options.name === undefined,
  };
  const temp = mkdtempSync(join(dir, '.new-'));
  try {
    mkdirSync(join(temp, '_data'), { mode: 0o755 });
    writeFileSync(join(temp, 'volume.json'), `${JSON.stringify(record)}\n`);
    native.renameat2(AT_FDCWD, temp, AT_FDCWD, join(dir, name), RENAME_NOREPLACE);
  } catch (error) {
    removeTree(temp);
    const code = (error as { code?: string }).code;
    if (code === 'EEXIST' || code === 'ENOTEMPTY') {
      const raced = readRecord(storage, name);
      if (raced !== undefined && options.ignoreIfExists === true) return inspectOf(storage, raced, undefined);
      throw new HutchError(`volume with name ${name} already exists: volume already exists`);
    }
    throw error;
  }
  return inspectOf(storage, record, undefined);
}

/**
 * The volume `-v NAME:/dst` uses, created on first use (undefined name: a new
 * anonymous volume). Returns its name and mount point.
 */
export async function ensureVolume(
  storage: string,
  name: string | undefined,
): Promise<{ name: string; mountpoint: string; created: boolean }> {
  if (name !== undefined) {
    checkVolumeName(name);
    if (readRecord(storage, name) !== undefined) {
      return { name, mountpoint: volumeMountpoint(storage, name), created: false };
    }
  }
  const made = await createVolume(storage, name === undefined ? {} : { name, ignoreIfExists: true });
  return { name: made.Name, mountpoint: made.Mountpoint, created: true };
}

/** podman's volume filters: name=, label=KEY or label=KEY=VALUE, dangling=true|false, anonymous=. */
function matches(v: VolumeInspect, filters: readonly string[], users: VolumeUsers | undefined): boolean {
  for (const filter of filters) {
    const eq = filter.indexOf('=');
    if (eq < 0) throw new HutchError(`invalid volume filter ${JSON.stringify(filter)}: expected KEY=VALUE`);
    const key = filter.slice(0, eq);
    const value = filter.slice(eq + 1);
    switch (key) {
      case 'name':
        if (!new RegExp(value).test(v.Name)) return false;
        break;
      case 'label': {
        const [k, ...rest] = value.split('=');
        const labelKey = k as string;
        if (!(labelKey in v.Labels)) return false;
        if (rest.length > 0 && v.Labels[labelKey] !== rest.join('=')) return false;
        break;
      }
      case 'dangling': {
        const dangling = (users?.(v.Name).length ?? 0) === 0;
        if (dangling !== (value === 'true' || value === '1')) return false;
        break;
      }
      case 'driver':
        if (value !== 'local') return false;
        break;
      case 'anonymous':
        if (v.Anonymous !== (value === 'true' || value === '1')) return false;
        break;
      default:
        throw new HutchError(
          `invalid volume filter ${JSON.stringify(key)}: hutch knows name, label, dangling, driver, anonymous`,
        );
    }
  }
  return true;
}

/** Every volume, sorted by name (podman's `volume ls`). */
export function listVolumes(
  storage: string,
  options: { filters?: readonly string[]; usedBy?: VolumeUsers } = {},
): VolumeInspect[] {
  let names: string[];
  try {
    names = readdirSync(volumesDir(storage));
  } catch {
    return [];
  }
  return names
    .filter((n) => NAME.test(n))
    .sort()
    .map((n) => readRecord(storage, n))
    .filter((r): r is VolumeRecord => r !== undefined)
    .map((r) => inspectOf(storage, r, options.usedBy))
    .filter((v) => matches(v, options.filters ?? [], options.usedBy));
}

/** podman's `volume inspect NAME`. */
export function inspectVolume(storage: string, name: string, usedBy?: VolumeUsers): VolumeInspect {
  const record = NAME.test(name) ? readRecord(storage, name) : undefined;
  if (record === undefined) throw noSuchVolume(name);
  return inspectOf(storage, record, usedBy);
}

/**
 * Removes a volume and its data (podman's `volume rm`). A volume some
 * container uses is refused (exit 2, podman's) unless force; the caller removes
 * those containers first when it forces.
 */
export async function removeVolume(
  storage: string,
  name: string,
  options: { force?: boolean; usedBy?: VolumeUsers } = {},
): Promise<void> {
  await withLock(storage, () => {
    if (!NAME.test(name) || readRecord(storage, name) === undefined) throw noSuchVolume(name);
    const users = options.usedBy?.(name) ?? [];
    if (users.length > 0 && options.force !== true) {
      throw new HutchError(
        `volume ${name} is being used by the following container(s): ${users.join(', ')}: volume is being used`,
        { exitCode: 2 },
      );
    }
    discard(storage, name);
  });
}

/** Removes every volume no container uses (podman's `volume prune`); returns their names. */
export async function pruneVolumes(
  storage: string,
  options: { filters?: readonly string[]; usedBy?: VolumeUsers } = {},
): Promise<string[]> {
  return withLock(storage, () => {
    const removed: string[] = [];
    for (const volume of listVolumes(storage, options)) {
      if ((options.usedBy?.(volume.Name).length ?? 0) > 0) continue;
      discard(storage, volume.Name);
      removed.push(volume.Name);
    }
    return removed;
  });
}

/** Renamed out of the way in one step (it is gone for every reader at once), then deleted. */
function discard(storage: string, name: string): void {
  const doomed = join(volumesDir(storage), `.gone-${name}-${randomBytes(4).toString('hex')}`);
  native.renameat2(AT_FDCWD, join(volumesDir(storage), name), AT_FDCWD, doomed, RENAME_NOREPLACE);
  removeTree(doomed);
}
