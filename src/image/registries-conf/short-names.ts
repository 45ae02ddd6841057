/**
 * What a short name (`app`, `team/app:1`) means, as containers/image's
 * pkg/shortnames resolves it for podman 4.3:
 *
 * - in the store (localCandidates): the alias, then `localhost/NAME`, then
 *   NAME under each unqualified-search registry, then docker.io (libimage's
 *   backward compatibility);
 * - to pull (pullCandidates): the alias alone when there is one, otherwise
 *   NAME under each unqualified-search registry, tried in order. podman prompts
 *   on a terminal when there are several; hutch never prompts and acts as
 *   podman does without a terminal: permissive mode tries them all, enforcing
 *   refuses, disabled tries them all.
 *
 * A name with a registry means itself. Tags and digests ride along; a name
 * without either gets `latest`.
 */
import { HutchError } from '../../errors.js';
import {
  DOCKER_HUB,
  formatReference,
  isShortName,
  LOCALHOST,
  parseReference,
  type ImageReference,
} from '../reference.js';
import type { RegistriesConf } from './config.js';

/** What short-name resolution needs of the configuration. */
export type ShortNameSettings = Pick<
  RegistriesConf,
  'aliases' | 'unqualifiedSearchRegistries' | 'searchOrigin' | 'shortNameMode'
>;

export interface PullCandidates {
  candidates: ImageReference[];
  /** podman's line before trying them, when the search list made them. */
  description: string | undefined;
}

/** `app:1@sha256:…` -> `app` and `:1@sha256:…`. */
function splitRepository(input: string): { repository: string; suffix: string } {
  const at = input.indexOf('@');
  const name = at < 0 ? input : input.slice(0, at);
  const digest = at < 0 ? '' : input.slice(at);
  const colon = name.lastIndexOf(':');
  if (colon > name.lastIndexOf('/')) return { repository: name.slice(0, colon), suffix: name.slice(colon) + digest };
  return { repository: name, suffix: digest };
}

/** The alias of a short name with the name's tag or digest, if an alias is set (and not reset). */
function aliasFor(input: string, settings: ShortNameSettings): ImageReference | undefined {
  const { repository, suffix } = splitRepository(input);
  const value = settings.aliases.get(repository)?.value;
  return value === undefined ? undefined : parseReference(`${value}${suffix}`);
}

/** The full names a user's word may stand for in the store, in the order podman tries them. */
export function localCandidates(input: string, settings: ShortNameSettings): ImageReference[] {
  // Checks the name; a malformed one throws here rather than matching nothing silently.
  const docker = parseReference(input, DOCKER_HUB);
  if (!isShortName(input)) return [docker];
  const candidates: ImageReference[] = [];
  const alias = aliasFor(input, settings);
  if (alias !== undefined) candidates.push(alias);
  candidates.push(parseReference(input, LOCALHOST));
  for (const registry of settings.unqualifiedSearchRegistries) candidates.push(parseReference(`${registry}/${input}`));
  candidates.push(docker);
  const seen = new Set<string>();
  return candidates.filter((c) => {
    const key = formatReference(c);
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** The references to try, in order, to pull what the user named. */
export function pullCandidates(input: string, settings: ShortNameSettings): PullCandidates {
  if (!isShortName(input)) return { candidates: [parseReference(input)], description: undefined };
  parseReference(input, LOCALHOST);
  const alias = aliasFor(input, settings);
  if (alias !== undefined) return { candidates: [alias], description: undefined };
  const registries = settings.unqualifiedSearchRegistries;
  if (registries.length === 0) {
    const where =
      settings.searchOrigin === ''
        ? 'no containers-registries.conf(5) was found'
        : `no unqualified-search registries are defined in ${JSON.stringify(settings.searchOrigin)}`;
    throw new HutchError(`short-name ${JSON.stringify(input)} did not resolve to an alias and ${where}`, {
      hint: `name the registry (e.g. docker.io/${input}), or add unqualified-search-registries or an alias to registries.conf`,
    });
  }
  const candidates = registries.map((registry) => parseReference(`${registry}/${input}`));
  if (candidates.length > 1 && settings.shortNameMode === 'enforcing') {
    throw new HutchError('short-name resolution enforced but cannot prompt without a TTY', {
      hint: `name the registry (one of ${registries.join(', ')}), or set short-name-mode = "permissive" in registries.conf`,
    });
  }
  const { repository } = splitRepository(input);
  return {
    candidates,
    description: `Resolving ${JSON.stringify(repository)} using unqualified-search registries (${settings.searchOrigin})`,
  };
}
