/**
 * Which containers a verb over several containers acts on (rm, stop, kill,
 * pause, unpause, restart, start, wait): the names given, or --all, --latest,
 * --cidfile, --filter, checked as podman checks them. Every name is looked up
 * before anything is done, as podman does: one that names no container fails
 * the command (unless --ignore), and no container is touched.
 */
import { readFileSync } from 'node:fs';
import { HutchError } from '../errors.js';
import { findNetwork } from '../run/network/networks.js';
import { volumeMountpoint } from '../run/volumes.js';
import { containerMatcher, parseContainerFilters, type FilterContext } from '../run/container/filters.js';
import type { Runtime } from '../run/container/lifecycle.js';
import { NoSuchContainerError, type Container } from '../run/container/store.js';
import type { Outcome } from './outcomes.js';

export interface TargetOptions {
  /** Names or ids as given. */
  names: readonly string[];
  /** --all: every container the verb's allOf accepts. */
  all?: boolean;
  /** --latest: the container created last. */
  latest?: boolean;
  /** --cidfile: files that hold a container id each. */
  cidfiles?: readonly string[];
  /** --filter KEY=VALUE. */
  filters?: readonly string[];
  /** --ignore: a name or id that names no container is skipped. */
  ignore?: boolean;
}

/** A container to act on, and what podman prints for it: the name as given, or the id (--all, --latest, …). */
export interface Target {
  label: string;
  container: Container;
}

export interface TargetRules {
  /** Which containers --all means for this verb (every one by default). */
  allOf?: (container: Container) => boolean;
  /** The exit status of a name that names no container: 1 for rm, 125 (the default) for the other verbs, as podman's. */
  missingExitCode?: number;
}

/** podman's validate.CheckAllLatestAndIDFile: which of names, --all, --latest, --cidfile and --filter go together. */
export function checkTargetFlags(options: TargetOptions): void {
  const count = options.names.length;
  const cidfile = (options.cidfiles?.length ?? 0) > 0;
  if ((options.filters?.length ?? 0) > 0) {
    if (count > 0) throw new HutchError('--filter takes no arguments');
    return;
  }
  if (cidfile && (options.all === true || options.latest === true)) {
    throw new HutchError('--all, --latest, and --cidfile cannot be used together');
  }
  if (options.all === true && options.latest === true)
    throw new HutchError('--all and --latest cannot be used together');
  if (count > 0 && options.all === true) throw new HutchError('no arguments are needed with --all');
  if (count > 0 && options.latest === true) throw new HutchError('--latest and containers cannot be used together');
  if (count > 0 && cidfile) throw new HutchError('no arguments are needed with --latest or --cidfile');
  if (count === 0 && !cidfile && options.all !== true && options.latest !== true) {
    throw new HutchError('you must provide at least one name or id', { hint: 'name containers, or use --all' });
  }
}

/** The ids in --cidfile files (podman reads the whole file, trimmed). */
function readCidfiles(files: readonly string[]): string[] {
  return files.map((file) => {
    try {
      return readFileSync(file, 'utf8').trim();
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      const why = code === 'ENOENT' ? 'no such file or directory' : (error as Error).message;
      throw new HutchError(`reading CIDFile: open ${file}: ${why}`, { cause: error });
    }
  });
}

export function filterContext(runtime: Runtime, all: readonly Container[], now = Date.now()): FilterContext {
  return {
    find: (nameOrId) => {
      const found = all.find((c) => c.config.id === nameOrId || c.config.name === nameOrId);
      return found ?? runtime.containers.find(nameOrId);
    },
    networkName: (nameOrId) => {
      try {
        return findNetwork(runtime.paths.storage, nameOrId).name;
      } catch {
        return undefined;
      }
    },
    volumeMountpoint: (name) => volumeMountpoint(runtime.paths.storage, name),
    now,
  };
}

/** The containers created last first, as --latest and ps -n pick them. */
export function newestFirst(containers: readonly Container[]): Container[] {
  return [...containers].sort((a, b) => Date.parse(b.config.created) - Date.parse(a.config.created));
}

/** The containers to act on, in the order given (by creation with --all). Throws before acting, as podman. */
export function selectTargets(runtime: Runtime, options: TargetOptions, rules: TargetRules = {}): Target[] {
  checkTargetFlags(options);
  const all = runtime.containers.list();
  const byId = (c: Container): Target => ({ label: c.config.id, container: c });
  if ((options.filters?.length ?? 0) > 0) {
    const matches = containerMatcher(parseContainerFilters(options.filters ?? []), filterContext(runtime, all));
    const chosen = all.filter(matches);
    return (options.all === true ? chosen.filter(rules.allOf ?? (() => true)) : chosen).map(byId);
  }
  if (options.all === true) return all.filter(rules.allOf ?? (() => true)).map(byId);
  if (options.latest === true) {
    const [latest] = newestFirst(all);
    if (latest === undefined) throw new HutchError('no such container', { exitCode: rules.missingExitCode });
    return [byId(latest)];
  }
  const cidfile = (options.cidfiles?.length ?? 0) > 0;
  const names = cidfile ? readCidfiles(options.cidfiles ?? []) : options.names;
  const targets: Target[] = [];
  for (const name of names) {
    let container: Container;
    try {
      container = runtime.containers.find(name);
    } catch (error) {
      if (!(error instanceof NoSuchContainerError)) throw error;
      if (options.ignore === true) continue;
      throw new NoSuchContainerError(name, { exitCode: rules.missingExitCode });
    }
    targets.push({ label: cidfile ? container.config.id : name, container });
  }
  return targets;
}

/** Runs task for each target in turn, yielding its value or its error under the target's label (outcomes.ts). */
export async function* eachTarget<T>(
  targets: readonly Target[],
  task: (container: Container) => Promise<T>,
): AsyncGenerator<Outcome<T>, void, undefined> {
  for (const target of targets) {
    let outcome: Outcome<T>;
    try {
      outcome = { name: target.label, value: await task(target.container) };
    } catch (error) {
      outcome = { name: target.label, error };
    }
    yield outcome;
  }
}
