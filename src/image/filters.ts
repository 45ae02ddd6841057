/**
 * `images --filter KEY=VALUE` (and KEY!=VALUE), with podman 4.3.1's keys,
 * values and errors: after/since, before, containers, dangling, digest, id,
 * intermediate, label, manifest, readonly, reference, until. Filters of one
 * key match when any of them does; every key must match.
 */
import { HutchError } from '../errors.js';
import type { ResolvedImage } from './store/resolve.js';

/** Go's zero time, which podman gives an image without a creation date (ms since the epoch). */
const GO_ZERO_TIME = Date.parse('0001-01-01T00:00:00Z');

/** What a filter looks at: an image and the facts the listing gathered about it. */
export interface FilterSubject {
  image: ResolvedImage;
  dangling: boolean;
  intermediate: boolean;
  /** How many containers use the image. */
  containers: number;
  readOnly: boolean;
}

export interface FilterContext {
  /** The image a before/since value names (throws podman's `NAME: image not known`). */
  lookup(nameOrId: string): ResolvedImage;
  now: Date;
}

type Predicate = (subject: FilterSubject) => boolean;

const createdOf = (image: ResolvedImage) => image.created?.getTime() ?? GO_ZERO_TIME;

/** Compiles podman's image filters; throws podman's error for a malformed or unknown one. */
export function compileImageFilters(filters: readonly string[], context: FilterContext): Predicate {
  const groups = new Map<string, Predicate[]>();
  const duplicate = new Map<string, string>();
  const once = (key: string, value: string) => {
    const seen = duplicate.get(key);
    if (seen !== undefined && seen !== value) {
      throw new HutchError(`specifying "${key}" filter more than once with different values is not supported`);
    }
    duplicate.set(key, value);
  };
  const bool = (key: string, value: string): boolean => {
    once(key, value);
    const parsed = parseGoBool(value);
    if (parsed === undefined) {
      // podman's message, with its key and value the other way round.
      throw new HutchError(
        `non-boolean value "${key}" for ${value} filter: strconv.ParseBool: parsing "${value}": invalid syntax`,
      );
    }
    return parsed;
  };
  const imageTime = (key: string, value: string): number => {
    try {
      return createdOf(context.lookup(value));
    } catch (error) {
      throw new HutchError(
        `could not find local image for filter filter "${key}"="${value}": ${(error as Error).message}`,
        { cause: error },
      );
    }
  };
  for (const filter of filters) {
    let negate = false;
    let split = splitOnce(filter, '!=');
    if (split !== undefined) negate = true;
    else split = splitOnce(filter, '=');
    if (split === undefined) {
      throw new HutchError(`invalid image filter "${filter}": must be in the format "filter=value or filter!=value"`);
    }
    const value = split[1];
    let key = split[0];
    let predicate: Predicate;
    switch (key) {
      case 'after':
      case 'since': {
        const after = imageTime(key, value);
        key = 'since';
        predicate = (s) => createdOf(s.image) > after;
        break;
      }
      case 'before': {
        const before = imageTime(key, value);
        predicate = (s) => createdOf(s.image) < before;
        break;
      }
      case 'containers': {
        once(key, value);
        if (value === 'external') throw new HutchError('libimage error: external containers filter without callback');
        if (value !== 'true' && value !== 'false') {
          throw new HutchError(`unsupported value "${value}" for containers filter`);
        }
        const used = value === 'true';
        predicate = (s) => s.containers > 0 === used;
        break;
      }
      case 'dangling': {
        const dangling = bool(key, value);
        predicate = (s) => s.dangling === dangling;
        break;
      }
      case 'intermediate': {
        const intermediate = bool(key, value);
        predicate = (s) => s.intermediate === intermediate;
        break;
      }
      case 'readonly': {
        const readOnly = bool(key, value);
        predicate = (s) => s.readOnly === readOnly;
        break;
      }
      case 'manifest': {
        // The store holds images, never a manifest list.
        const manifest = bool(key, value);
        predicate = () => !manifest;
        break;
      }
      case 'id': {
        const id = value.replace(/^sha256:/, '');
        predicate = (s) => s.image.id === `sha256:${id}`;
        break;
      }
      case 'digest': {
        // podman 4.4's: a prefix of the manifest digest (4.3.1 has no digest filter).
        if (!value.startsWith('sha256:')) throw new HutchError(`invalid value "${value}" for digest filter`);
        predicate = (s) => s.image.manifestDescriptor.digest.startsWith(value);
        break;
      }
      case 'label':
        predicate = (s) => matchLabel(value, s.image.config.config?.Labels ?? {});
        break;
      case 'reference':
        predicate = (s) => s.image.names.some((name) => referenceCandidates(name).some((c) => goPathMatch(value, c)));
        break;
      case 'until': {
        const until = parseUntil(value, context.now);
        predicate = (s) => createdOf(s.image) < until;
        break;
      }
      default:
        throw new HutchError(`unsupported image filter "${key}"`, {
          hint: 'filters: after, before, containers, dangling, digest, id, intermediate, label, manifest, readonly, reference, since, until',
        });
    }
    const positive = predicate;
    groups.set(key, [...(groups.get(key) ?? []), negate ? (s) => !positive(s) : positive]);
  }
  const all = [...groups.values()];
  return (subject) => all.every((group) => group.some((p) => p(subject)));
}

function splitOnce(text: string, separator: string): [string, string] | undefined {
  const at = text.indexOf(separator);
  return at < 0 ? undefined : [text.slice(0, at), text.slice(at + separator.length)];
}

/** Go's strconv.ParseBool. */
export function parseGoBool(value: string): boolean | undefined {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(value)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(value)) return false;
  return undefined;
}

/** `label=KEY` or `label=KEY=VALUE`. */
function matchLabel(filter: string, labels: Record<string, string>): boolean {
  const eq = filter.indexOf('=');
  const key = eq < 0 ? filter : filter.slice(0, eq);
  const value = eq < 0 ? '' : filter.slice(eq + 1);
  return Object.entries(labels).some(([k, v]) => k === key && (value === '' || v === value));
}

/**
 * The forms of a stored name a reference filter is matched against, as
 * podman splits it: the full name, the path (no registry) and the last
 * component, each with and without its tag or digest.
 */
export function referenceCandidates(name: string): string[] {
  const at = name.indexOf('@');
  const beforeDigest = at < 0 ? name : name.slice(0, at);
  const colon = beforeDigest.lastIndexOf(':');
  const trimmed = colon > beforeDigest.lastIndexOf('/') ? beforeDigest.slice(0, colon) : beforeDigest;
  const tagOrDigest = name.slice(trimmed.length);
  const slash = trimmed.indexOf('/');
  const path = slash < 0 ? trimmed : trimmed.slice(slash + 1);
  const last = (s: string) => s.slice(s.lastIndexOf('/') + 1);
  const candidates = [name, path, last(name)];
  if (tagOrDigest !== '') candidates.push(trimmed, path + tagOrDigest, last(trimmed));
  return candidates;
}

/** Go's path.Match: `*` and `?` stop at `/`, `[…]` classes (`^` negates), `\` escapes; a bad pattern matches nothing. */
export function goPathMatch(pattern: string, name: string): boolean {
  let source = '^';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*') source += '[^/]*';
    else if (c === '?') source += '[^/]';
    else if (c === '\\') {
      i++;
      if (i >= pattern.length) return false;
      source += escapeRegExp(pattern[i] as string);
    } else if (c === '[') {
      const end = pattern.indexOf(']', i + 2);
      if (end < 0) return false;
      let body = pattern.slice(i + 1, end);
      const negated = body.startsWith('^');
      if (negated) body = body.slice(1);
      if (body === '') return false;
      source += `[${negated ? '^' : ''}${body.replace(/[\]\\]/g, '\\$&')}]`;
      i = end;
    } else source += escapeRegExp(c);
  }
  try {
    return new RegExp(`${source}$`, 's').test(name);
  } catch {
    return false;
  }
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * until=: a Go duration before now (`10m`, `1h30m`), Unix seconds
 * (`1700000000[.5]`) or an RFC 3339 date or time (UTC when it has no zone),
 * as podman's timetype.GetTimestamp reads it. Milliseconds since the epoch.
 */
export function parseUntil(value: string, now: Date): number {
  const duration = parseGoDuration(value);
  if (duration !== undefined) return now.getTime() - duration;
  if (/^\d+(\.\d+)?$/.test(value)) return Math.floor(Number(value) * 1000);
  if (/^\d{4}-\d{2}-\d{2}([T ][\d:.]+)?(Z|[+-]\d{2}:?\d{2})?$/.test(value)) {
    const zoned = /(Z|[+-]\d{2}:?\d{2})$/.test(value) || !value.includes('T') ? value : `${value}Z`;
    const time = Date.parse(zoned.includes('T') ? zoned : `${zoned}T00:00:00Z`);
    if (!Number.isNaN(time)) return time;
  }
  throw new HutchError(`failed to parse value as time or duration: "${value}"`, {
    hint: 'give a duration (10m, 2h), Unix seconds or an RFC 3339 time (2026-01-02T15:04:05Z)',
  });
}

/** Go's time.ParseDuration, in milliseconds; undefined when it is not one. */
export function parseGoDuration(text: string): number | undefined {
  const units: Record<string, number> = { ns: 1e-6, us: 1e-3, µs: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000 };
  const match = /^([-+]?)((?:\d+(?:\.\d*)?|\.\d+)(?:ns|us|µs|ms|s|m|h))+$/.exec(text);
  if (match === null) return text === '0' ? 0 : undefined;
  let total = 0;
  for (const part of text.matchAll(/(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|ms|s|m|h)/g)) {
    total += Number(part[1]) * (units[part[2] as string] as number);
  }
  return match[1] === '-' ? -total : total;
}
