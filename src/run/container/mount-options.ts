/**
 * The mount flags of `hutch run`, parsed as podman parses them:
 *
 *   -v, --volume [SRC:]DST[:OPTS]   SRC starting with "/" or "." is a host path (a bind),
 *                                   any other SRC a named volume, no SRC an anonymous volume.
 *                                   OPTS: ro, rw, z, Z, nosuid, suid, nodev, dev, noexec, exec,
 *                                   bind, rbind, [r]shared, [r]slave, [r]private, [r]unbindable,
 *                                   copy, nocopy
 *   --mount type=bind|volume|tmpfs,source=,target=,…   docker's CSV (quotes allowed)
 *   --tmpfs DST[:OPTS]              OPTS as mount(8) takes them for tmpfs
 *
 * z and Z (SELinux relabelling) are accepted and do nothing: hutch does not
 * label files (no SELinux policy applies to a rootless container here).
 *
 * Parsing is pure (parseVolumeFlag, parseMountFlag, parseTmpfsFlag); then
 * resolveMounts checks bind sources and creates named volumes on first use,
 * giving the MountSpecs of the container spec. Every error names the flag and
 * the problem and exits 125.
 */
import { statSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import { HutchError, withContext } from '../../errors.js';
import { checkVolumeName, ensureVolume } from '../volumes.js';
import { cleanPath } from '../../fs/in-root.js';
import type { BindMount, MountSpec, TmpfsMount } from './spec.js';
import { isMissing } from '../../fs/missing.js';

export type Propagation =
  'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave' | 'unbindable' | 'runbindable';
type FlagOption = 'nosuid' | 'nodev' | 'noexec';

const PROPAGATIONS = new Set<string>([
  'private',
  'rprivate',
  'shared',
  'rshared',
  'slave',
  'rslave',
  'unbindable',
  'runbindable',
]);

/** A bind as the spec takes it, with the propagation --mount bind-propagation= or -v asked for. */
export type BindMountSpec = BindMount & { propagation?: Propagation };

/** What a flag asks for, before volumes are looked up. `flag` is how the user wrote it, for errors. */
export type MountRequest =
  | {
      type: 'bind';
      flag: string;
      source: string;
      destination: string;
      readonly: boolean;
      recursive: boolean;
      options: FlagOption[];
      propagation?: Propagation;
    }
  | {
      type: 'volume';
      flag: string;
      /** undefined: an anonymous volume. */
      name: string | undefined;
      destination: string;
      readonly: boolean;
      options: FlagOption[];
      /** Copy the image's content at the destination into a new volume (podman's default; not done yet). */
      copy: boolean;
    }
  | {
      type: 'tmpfs';
      flag: string;
      destination: string;
      readonly: boolean;
      data: string[];
      options: FlagOption[];
      /** tmpcopyup (podman's default): the image's content at the destination is copied into the tmpfs. */
      copyUp: boolean;
    };

function invalid(flag: string, value: string, problem: string): HutchError {
  return new HutchError(`invalid ${flag} ${JSON.stringify(value)}: ${problem}`);
}

function destinationOf(flag: string, value: string, destination: string): string {
  if (destination === '') throw invalid(flag, value, 'the destination is empty');
  if (!isAbsolute(destination)) {
    throw invalid(flag, value, `the destination ${JSON.stringify(destination)} is not an absolute path`);
  }
  const clean = cleanPath(destination);
  if (clean === '/') throw invalid(flag, value, 'cannot mount over /');
  return clean;
}

/** On/off flag options: the last of nosuid/suid wins, as mount(8) reads them. */
function applyFlag(options: Set<FlagOption>, option: string): boolean {
  const flags: Record<string, [FlagOption, boolean]> = {
    nosuid: ['nosuid', true],
    suid: ['nosuid', false],
    nodev: ['nodev', true],
    dev: ['nodev', false],
    noexec: ['noexec', true],
    exec: ['noexec', false],
  };
  const known = flags[option];
  if (known === undefined) return false;
  if (known[1]) options.add(known[0]);
  else options.delete(known[0]);
  return true;
}

const ORDER: FlagOption[] = ['nosuid', 'nodev', 'noexec'];
const sorted = (options: Set<FlagOption>) => ORDER.filter((o) => options.has(o));

/** -v / --volume [SRC:]DST[:OPTS]. cwd resolves a relative host path ("./data"). */
export function parseVolumeFlag(value: string, cwd: string = process.cwd()): MountRequest {
  const flag = '-v';
  const parts = value.split(':');
  if (parts.length > 3) throw invalid(flag, value, 'too many colons');
  if (value === '') throw invalid(flag, value, 'it is empty');
  const [first, second, third] = parts as [string, string | undefined, string | undefined];
  const source = parts.length === 1 ? undefined : first;
  const destination = destinationOf(flag, value, parts.length === 1 ? first : (second as string));
  let readonly: boolean | undefined;
  let recursive: boolean | undefined;
  let propagation: Propagation | undefined;
  let copy: boolean | undefined;
  const options = new Set<FlagOption>();
  const seen = new Set<string>();
  for (const option of third === undefined ? [] : third.split(',')) {
    if (option === '') throw invalid(flag, value, 'an option is empty');
    const group = option === 'ro' || option === 'rw' ? 'rw' : option === 'bind' || option === 'rbind' ? 'bind' : option;
    if (seen.has(group)) throw invalid(flag, value, `option ${JSON.stringify(option)} conflicts with an earlier one`);
    seen.add(group);
    if (option === 'ro' || option === 'rw') readonly = option === 'ro';
    else if (option === 'bind' || option === 'rbind') recursive = option === 'rbind';
    else if (option === 'z' || option === 'Z') continue;
    else if (option === 'copy' || option === 'nocopy') copy = option === 'copy';
    else if (PROPAGATIONS.has(option)) {
      if (propagation !== undefined) throw invalid(flag, value, 'more than one propagation option');
      propagation = option as Propagation;
    } else if (!applyFlag(options, option)) {
      const why = ['U', 'O', 'idmap'].includes(option) ? 'is not supported by hutch' : 'is not a volume option';
      throw invalid(flag, value, `option ${JSON.stringify(option)} ${why}`);
    }
  }
  if (source === undefined || (!source.startsWith('/') && !source.startsWith('.'))) {
    if (source === '') throw invalid(flag, value, 'the source is empty');
    if (source !== undefined) checkName(flag, value, source);
    if (recursive !== undefined || propagation !== undefined) {
      throw invalid(flag, value, 'bind and propagation options apply to host directories, not volumes');
    }
    // Named volumes get nosuid and nodev unless asked otherwise (podman's default).
    const volumeOptions = new Set<FlagOption>(['nosuid', 'nodev']);
    for (const option of third?.split(',') ?? []) applyFlag(volumeOptions, option);
    return {
      type: 'volume',
      flag: `${flag} ${value}`,
      name: source,
      destination,
      readonly: readonly ?? false,
      options: sorted(volumeOptions),
      copy: copy ?? true,
    };
  }
  if (copy !== undefined) throw invalid(flag, value, `option ${copy ? 'copy' : 'nocopy'} applies to volumes only`);
  return {
    type: 'bind',
    flag: `${flag} ${value}`,
    source: resolve(cwd, source),
    destination,
    readonly: readonly ?? false,
    recursive: recursive ?? true,
    options: sorted(options),
    ...(propagation === undefined ? {} : { propagation }),
  };
}

function checkName(flag: string, value: string, name: string): void {
  try {
    checkVolumeName(name);
  } catch {
    throw invalid(
      flag,
      value,
      `${JSON.stringify(name)} is neither an absolute path nor a volume name ([a-zA-Z0-9][a-zA-Z0-9_.-]*)`,
    );
  }
}

/** docker's CSV fields: commas separate, double quotes protect commas and quotes ("" is one "). */
export function splitCsv(value: string): string[] {
  const fields: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < value.length; i++) {
    const c = value[i] as string;
    if (quoted) {
      if (c === '"' && value[i + 1] === '"') {
        field += '"';
        i++;
      } else if (c === '"') quoted = false;
      else field += c;
    } else if (c === '"') quoted = true;
    else if (c === ',') {
      fields.push(field);
      field = '';
    } else field += c;
  }
  if (quoted) throw new HutchError(`invalid --mount ${JSON.stringify(value)}: an unterminated quote`);
  fields.push(field);
  return fields;
}

function parseBool(flag: string, value: string, key: string, text: string | undefined): boolean {
  if (text === undefined) return true;
  if (['true', '1'].includes(text.toLowerCase())) return true;
  if (['false', '0'].includes(text.toLowerCase())) return false;
  throw invalid(flag, value, `${key}=${text}: expected true or false`);
}

const SIZE = /^\d+[kKmMgG%]?$/;
const MODE = /^[0-7]{1,4}$/;

/** --mount type=bind|volume|tmpfs,… (docker's syntax; podman's option names accepted). */
export function parseMountFlag(value: string, cwd: string = process.cwd()): MountRequest {
  const flag = '--mount';
  const fields: Record<string, string | undefined> = {};
  const options = new Set<FlagOption>();
  let propagation: Propagation | undefined;
  let recursive = true;
  let readonly = false;
  let copy = true;
  let copyUp = true;
  const tmpfsData: string[] = [];
  for (const field of splitCsv(value)) {
    if (field === '') continue;
    const eq = field.indexOf('=');
    const key = (eq < 0 ? field : field.slice(0, eq)).trim().toLowerCase();
    const text = eq < 0 ? undefined : field.slice(eq + 1);
    switch (key) {
      case 'type':
      case 'source':
      case 'src':
      case 'target':
      case 'destination':
      case 'dst':
        if (text === undefined || text === '') throw invalid(flag, value, `${key} needs a value`);
        fields[key === 'src' ? 'source' : key === 'destination' || key === 'dst' ? 'target' : key] = text;
        break;
      case 'readonly':
      case 'ro':
        readonly = parseBool(flag, value, key, text);
        break;
      case 'rw':
        readonly = !parseBool(flag, value, key, text);
        break;
      case 'bind-propagation':
        if (text === undefined || !PROPAGATIONS.has(text)) {
          throw invalid(flag, value, `bind-propagation=${text ?? ''}: expected one of ${[...PROPAGATIONS].join(', ')}`);
        }
        propagation = text as Propagation;
        break;
      case 'bind-nonrecursive':
        recursive = !parseBool(flag, value, key, text);
        break;
      case 'volume-nocopy':
        copy = !parseBool(flag, value, key, text);
        break;
      case 'tmpfs-size':
        if (text === undefined || !SIZE.test(text))
          throw invalid(flag, value, `tmpfs-size=${text ?? ''} is not a size`);
        tmpfsData.push(`size=${text}`);
        break;
      case 'tmpfs-mode':
        if (text === undefined || !MODE.test(text))
          throw invalid(flag, value, `tmpfs-mode=${text ?? ''} is not an octal mode`);
        tmpfsData.push(`mode=${text}`);
        break;
      case 'tmpcopyup':
      case 'notmpcopyup':
        if (text !== undefined) throw invalid(flag, value, `${key} takes no value`);
        copyUp = key === 'tmpcopyup';
        break;
      case 'z':
      case 'Z':
      case 'relabel':
      case 'consistency':
        break; // accepted, nothing to do here (no SELinux; consistency is for Docker Desktop)
      default:
        if (text === undefined && applyFlag(options, key)) break;
        throw invalid(flag, value, `unknown option ${JSON.stringify(key)}`);
    }
  }
  const type = fields.type;
  if (type === undefined) throw invalid(flag, value, 'type= is required (bind, volume or tmpfs)');
  if (fields.target === undefined) throw invalid(flag, value, 'target= (or destination=, dst=) is required');
  const destination = destinationOf(flag, value, fields.target);
  const shown = `${flag} ${value}`;
  switch (type) {
    case 'bind':
      if (fields.source === undefined) throw invalid(flag, value, 'source= is required for a bind mount');
      if (tmpfsData.length > 0) throw invalid(flag, value, 'tmpfs options apply to type=tmpfs only');
      return {
        type: 'bind',
        flag: shown,
        source: resolve(cwd, fields.source),
        destination,
        readonly,
        recursive,
        options: sorted(options),
        ...(propagation === undefined ? {} : { propagation }),
      };
    case 'volume': {
      if (fields.source !== undefined) checkName(flag, value, fields.source);
      if (tmpfsData.length > 0 || propagation !== undefined) {
        throw invalid(flag, value, 'bind and tmpfs options do not apply to type=volume');
      }
      const volumeOptions = new Set<FlagOption>(['nosuid', 'nodev']);
      for (const o of options) volumeOptions.add(o);
      return {
        type: 'volume',
        flag: shown,
        name: fields.source,
        destination,
        readonly,
        options: sorted(volumeOptions),
        copy,
      };
    }
    case 'tmpfs': {
      if (fields.source !== undefined) throw invalid(flag, value, 'type=tmpfs takes no source');
      if (propagation !== undefined) throw invalid(flag, value, 'bind-propagation does not apply to type=tmpfs');
      const tmpfsOptions = new Set<FlagOption>(['nosuid', 'nodev', 'noexec']);
      for (const o of options) tmpfsOptions.add(o);
      return {
        type: 'tmpfs',
        flag: shown,
        destination,
        readonly,
        data: tmpfsData,
        options: sorted(tmpfsOptions),
        copyUp,
      };
    }
    default:
      throw invalid(flag, value, `type=${type}: expected bind, volume or tmpfs`);
  }
}

const TMPFS_DATA = /^(size|mode|uid|gid|nr_inodes|nr_blocks|huge|mpol)=/;

/** --tmpfs DST[:OPTS], podman's defaults rw,noexec,nosuid,nodev. */
export function parseTmpfsFlag(value: string): MountRequest {
  const flag = '--tmpfs';
  const colon = value.indexOf(':');
  const destination = destinationOf(flag, value, colon < 0 ? value : value.slice(0, colon));
  const options = new Set<FlagOption>(['nosuid', 'nodev', 'noexec']);
  const data: string[] = [];
  let readonly = false;
  let copyUp = true;
  for (const option of colon < 0 ? [] : value.slice(colon + 1).split(',')) {
    if (option === '') continue;
    if (option === 'ro' || option === 'rw') readonly = option === 'ro';
    else if (option === 'tmpcopyup' || option === 'notmpcopyup') copyUp = option === 'tmpcopyup';
    else if (option === 'z' || option === 'Z') continue;
    else if (applyFlag(options, option)) continue;
    else if (TMPFS_DATA.test(option)) {
      if (option.startsWith('size=') && !SIZE.test(option.slice(5)))
        throw invalid(flag, value, `${option} is not a size`);
      if (option.startsWith('mode=') && !MODE.test(option.slice(5)))
        throw invalid(flag, value, `${option} is not an octal mode`);
      data.push(option);
    } else throw invalid(flag, value, `unknown mount option ${JSON.stringify(option)}`);
  }
  return { type: 'tmpfs', flag: `${flag} ${value}`, destination, readonly, data, options: sorted(options), copyUp };
}

export interface ResolvedMounts {
  mounts: MountSpec[];
  /** Named volumes the mounts use, in order (created ones included). */
  volumes: string[];
  /** Volumes made for this container (anonymous ones: removed with it by --rm). */
  created: { name: string; anonymous: boolean }[];
}

/**
 * The MountSpecs of the requests: bind sources must exist (HutchError
 * `bind source /x does not exist`, exit 125; podman says `statfs /x: no such
 * file or directory`), named volumes are created on first use, anonymous ones
 * made; two mounts on one destination are an error. Runs inside the session.
 */
export async function resolveMounts(requests: readonly MountRequest[], storage: string): Promise<ResolvedMounts> {
  const result: ResolvedMounts = { mounts: [], volumes: [], created: [] };
  const destinations = new Map<string, string>();
  for (const request of requests) {
    const earlier = destinations.get(request.destination);
    if (earlier !== undefined) {
      throw new HutchError(`${request.flag}: ${request.destination} is already the destination of ${earlier}`);
    }
    destinations.set(request.destination, request.flag);
  }
  for (const request of requests) {
    switch (request.type) {
      case 'tmpfs': {
        const spec: TmpfsMount = {
          type: 'tmpfs',
          destination: request.destination,
          readonly: request.readonly,
          data: request.data,
          options: request.options,
        };
        if (!request.copyUp) spec.copyUp = false;
        result.mounts.push(spec);
        break;
      }
      case 'bind': {
        try {
          statSync(request.source);
        } catch (error) {
          if (!isMissing(error)) throw withContext('bind', `bind source ${request.source}`, error);
          throw new HutchError(`bind source ${request.source} does not exist`, {
            hint: `create it first, or check the path given to ${request.flag.split(' ')[0]}`,
          });
        }
        const spec: BindMountSpec = {
          type: 'bind',
          source: request.source,
          destination: request.destination,
          readonly: request.readonly,
          recursive: request.recursive,
          options: request.options,
          ...(request.propagation === undefined ? {} : { propagation: request.propagation }),
        };
        result.mounts.push(spec);
        break;
      }
      case 'volume': {
        const volume = await ensureVolume(storage, request.name);
        if (volume.created) result.created.push({ name: volume.name, anonymous: request.name === undefined });
        result.volumes.push(volume.name);
        const spec: BindMountSpec = {
          type: 'bind',
          source: volume.mountpoint,
          destination: request.destination,
          readonly: request.readonly,
          recursive: true,
          options: request.options,
        };
        result.mounts.push(spec);
        break;
      }
    }
  }
  return result;
}
