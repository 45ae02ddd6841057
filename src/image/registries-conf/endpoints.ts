/**
 * Where a reference is fetched from and how (containers/image's FindRegistry
 * and PullSourcesFromReference): the `[[registry]]` with the longest prefix
 * matching the name decides. A pull tries its mirrors in order, then its
 * location, each with the prefix rewritten (`quay.io/libpod/x` with prefix
 * `quay.io/libpod` and location `127.0.0.1:5000/libpod` is fetched as
 * `127.0.0.1:5000/libpod/x`); the image keeps the name the user gave. A push
 * or a login goes to the name itself, with the entry's insecure and blocked.
 * `insecure` allows plain HTTP and unverified TLS; `blocked` refuses.
 */
import { HutchError } from '../../errors.js';
import { formatReference, parseReference, repositoryName, type ImageReference } from '../reference.js';
import type { RegistriesConf, RegistryEntry } from './config.js';

/** One place to fetch an image from. */
export interface PullSource {
  /** The reference as the endpoint names it (the prefix rewritten to its location). */
  reference: ImageReference;
  insecure: boolean;
  mirror: boolean;
}

/** Length of the prefix when `name` (`host[:port]/path[:tag][@digest]`) falls under it, else -1. */
export function prefixMatch(name: string, prefix: string): number {
  if (prefix.startsWith('*.')) {
    // *.example.com: any subdomain, only in the host part.
    const index = name.indexOf(prefix.slice(1));
    if (index < 0 || name.slice(0, index).includes('/')) return -1;
    const end = index + prefix.length - 1;
    return end === name.length || ':/@'.includes(name[end] as string) ? end : -1;
  }
  if (!name.startsWith(prefix)) return -1;
  // podman lets `example.com:5000` match the prefix `example.com` too (its documented quirk).
  return name.length === prefix.length || ':/@'.includes(name[prefix.length] as string) ? prefix.length : -1;
}

/** The entry with the longest prefix matching the name, if any. */
export function findRegistry(conf: Pick<RegistriesConf, 'registries'>, name: string): RegistryEntry | undefined {
  let found: RegistryEntry | undefined;
  for (const entry of conf.registries) {
    if (prefixMatch(name, entry.prefix) >= 0 && entry.prefix.length > (found?.prefix.length ?? 0)) found = entry;
  }
  return found;
}

/** podman's refusal of a blocked registry. */
export function blockedError(
  entry: RegistryEntry,
  conf: Pick<RegistriesConf, 'configPath' | 'configDirPath'>,
): HutchError {
  return new HutchError(`registry ${entry.prefix} is blocked in ${conf.configPath} or ${conf.configDirPath}`, {
    hint: 'registries.conf sets blocked = true for it: pull from another registry, or unblock it there',
  });
}

/** Mirrors first (unless they serve digests only and this is a tag), then the location. */
export function pullSources(conf: Pick<RegistriesConf, 'registries'>, ref: ImageReference): PullSource[] {
  const entry = findRegistry(conf, repositoryName(ref));
  if (entry === undefined) return [{ reference: ref, insecure: false, mirror: false }];
  const name = formatReference(ref);
  const useMirrors = !entry.mirrorByDigestOnly || ref.digest !== undefined;
  const endpoints = [
    ...(useMirrors ? entry.mirrors.map((m) => ({ ...m, mirror: true })) : []),
    { location: entry.location, insecure: entry.insecure, mirror: false },
  ];
  return endpoints.map((endpoint) => {
    if (endpoint.location === '') return { reference: ref, insecure: endpoint.insecure, mirror: endpoint.mirror };
    const matched = prefixMatch(name, entry.prefix);
    const rewritten = `${endpoint.location}${name.slice(matched)}`;
    let reference: ImageReference;
    try {
      reference = parseReference(rewritten);
    } catch (error) {
      throw new HutchError(`rewriting reference ${name} with ${endpoint.location}: ${(error as Error).message}`, {
        hint: `check prefix ${JSON.stringify(entry.prefix)} and its locations in registries.conf`,
      });
    }
    return { reference, insecure: endpoint.insecure, mirror: endpoint.mirror };
  });
}

/**
 * For a push or a login to `name` (`host[:port][/path]`): whether TLS may be
 * skipped; throws when the registry is blocked.
 */
export function destinationAccess(conf: RegistriesConf, name: string): { insecure: boolean } {
  const entry = findRegistry(conf, name);
  if (entry?.blocked === true) throw blockedError(entry, conf);
  return { insecure: entry?.insecure ?? false };
}
