/**
 * podman's container filters (`ps --filter`, `rm --filter`, `stop --filter`,
 * …), with podman 4.3's keys, values and errors: the values of one key are
 * alternatives (any may match), different keys must all match, except
 * `label`, whose values must all match. Parsing checks everything a user can
 * get wrong before a container is looked at.
 */
import { HutchError } from '../../errors.js';
import { isPaused } from '../cgroups/index.js';
import { parseLogTime } from './logs.js';
import type { Container } from './store.js';

export const FILTER_KEYS = [
  'ancestor',
  'before',
  'exited',
  'health',
  'id',
  'label',
  'name',
  'network',
  'pod',
  'since',
  'status',
  'until',
  'volume',
] as const;
export type FilterKey = (typeof FILTER_KEYS)[number];

/** The states the status filter takes (podman's define.StringToContainerStatus). */
const STATUSES = ['created', 'running', 'stopped', 'paused', 'exited', 'removing', 'unknown'];

/** The values given for each key, in order. */
export type ContainerFilters = Map<FilterKey, string[]>;

/**
 * --filter values as podman's StringSlice flag takes them: each flag may
 * hold several, comma-separated; each is KEY=VALUE with a known key.
 */
export function parseContainerFilters(values: readonly string[]): ContainerFilters {
  const filters: ContainerFilters = new Map();
  for (const item of values.flatMap((v) => v.split(','))) {
    const at = item.indexOf('=');
    if (at < 0) throw new HutchError(`invalid filter ${JSON.stringify(item)}`, { hint: 'give KEY=VALUE' });
    const key = item.slice(0, at);
    const value = item.slice(at + 1);
    if (!(FILTER_KEYS as readonly string[]).includes(key)) {
      throw new HutchError(`${key} is an invalid filter`, { hint: `filter on ${FILTER_KEYS.join(', ')}` });
    }
    if (key === 'status' && !STATUSES.includes(value)) {
      throw new HutchError(`unknown container state: ${value}: invalid argument`, {
        hint: `use ${STATUSES.join(', ')}`,
      });
    }
    if (key === 'exited' && !/^[+-]?\d+$/.test(value)) {
      throw new HutchError(`exited code out of range ${JSON.stringify(value)}`, { hint: 'give an exit code' });
    }
    filters.set(key as FilterKey, [...(filters.get(key as FilterKey) ?? []), value]);
  }
  return filters;
}

/** The container's state in podman's words: created, running, paused, stopping or exited. */
export function containerState(container: Container): 'created' | 'running' | 'paused' | 'stopping' | 'exited' {
  const { state } = container;
  if (state.status === 'running') return isPaused(state) ? 'paused' : state.stopping === true ? 'stopping' : 'running';
  if (state.status === 'created') return 'created';
  return 'exited';
}

/** What the filters need beyond the container itself. */
export interface FilterContext {
  /** Another container by name or id (before, since, network=container:X); throws podman's "no such container". */
  find(nameOrId: string): Container;
  /** The name of the network with this name or id; undefined when there is none. */
  networkName(nameOrId: string): string | undefined;
  /** Where a named volume is mounted from. */
  volumeMountpoint(name: string): string;
  now: number;
}

/** Go's regexp.MatchString, unanchored; a pattern that does not compile matches nothing. */
function matchesPattern(pattern: string, text: string): boolean {
  try {
    return new RegExp(pattern).test(text);
  } catch {
    return false;
  }
}

/** podman's until: a time or a duration before now (docker's timetype.GetTimestamp). */
function untilTime(value: string, now: number): number {
  try {
    return parseLogTime('until', value, now);
  } catch {
    throw new HutchError(`failed to parse value as time or duration: ${JSON.stringify(value)}`, {
      hint: 'give a duration (10m, 1h30m), Unix seconds, or an RFC 3339 time (2024-01-02T15:04:05Z)',
    });
  }
}

/**
 * The test for each key, resolved once (the containers named by before and
 * since, the networks named) so that a bad value fails before any container
 * is looked at, as podman's filter functions are built first.
 */
function predicate(key: FilterKey, values: string[], ctx: FilterContext): (c: Container) => boolean {
  const created = (c: Container) => Date.parse(c.config.created);
  switch (key) {
    case 'id':
      return (c) => values.some((v) => matchesPattern(v, c.config.id));
    case 'name':
      return (c) => values.some((v) => matchesPattern(v, c.config.name));
    case 'label':
      return (c) =>
        values.every((v) => {
          const at = v.indexOf('=');
          const key = at < 0 ? v : v.slice(0, at);
          const labels = c.config.options.labels;
          if (!Object.hasOwn(labels, key)) return false;
          return at < 0 || v.slice(at + 1) === '' || labels[key] === v.slice(at + 1);
        });
    case 'exited':
      return (c) =>
        containerState(c) === 'exited' &&
        c.state.exitCode !== undefined &&
        values.some((v) => Number(v) === c.state.exitCode);
    case 'status':
      return (c) => values.some((v) => (v === 'stopped' ? 'exited' : v) === containerState(c));
    case 'ancestor':
      // podman's rule: the image id, the name it was created from, or that name without its :latest.
      return (c) => {
        const name = c.config.image.name ?? '';
        const bare = name.endsWith(':latest') ? name.slice(0, -':latest'.length) : undefined;
        return values.some((v) => v === c.config.image.id.slice('sha256:'.length) || v === name || v === bare);
      };
    case 'before': {
      const limit = Math.min(...values.map((v) => created(ctx.find(v))));
      return (c) => created(c) < limit;
    }
    case 'since': {
      const limit = Math.max(...values.map((v) => created(ctx.find(v))));
      return (c) => created(c) > limit;
    }
    case 'until': {
      if (values.length !== 1) throw new HutchError('specify exactly one timestamp for until');
      const limit = untilTime(values[0] as string, ctx.now);
      return (c) => created(c) < limit;
    }
    case 'volume':
      return (c) =>
        values.some((v) => {
          const colon = v.indexOf(':');
          const source = colon < 0 ? v : v.slice(0, colon);
          const destination = colon < 0 ? undefined : v.slice(colon + 1);
          const sources = [source, ctx.volumeMountpoint(source)];
          return c.config.options.mounts.some(
            (m) =>
              m.type === 'bind' &&
              sources.includes(m.source) &&
              (destination === undefined || m.destination === destination),
          );
        });
    case 'network': {
      const joined = values.filter((v) => v.startsWith('container:')).map((v) => v.slice('container:'.length));
      const names = values
        .filter((v) => !v.startsWith('container:'))
        .map((v) => ctx.networkName(v))
        .filter((n): n is string => n !== undefined);
      return (c) => {
        const request = c.config.options.networkRequest;
        if (request?.mode === 'container') {
          const target = request.target ?? '';
          return joined.some((v) => {
            try {
              const wanted = ctx.find(v).config.id;
              return wanted === ctx.find(target).config.id;
            } catch {
              return false;
            }
          });
        }
        return request?.mode === 'network' && names.includes(request.target ?? '');
      };
    }
    case 'health':
      // hutch runs no healthchecks: no container has a health status to match, as podman's without one.
      return () => false;
    case 'pod':
      // hutch has no pods: no container is in one.
      return () => false;
  }
}

/** One test for every filter given (all keys must match); a bad value throws here, before any container. */
export function containerMatcher(filters: ContainerFilters, ctx: FilterContext): (c: Container) => boolean {
  const tests = [...filters].map(([key, values]) => predicate(key, values, ctx));
  return (c) => tests.every((test) => test(c));
}
