/**
 * Image references as docker and podman read them:
 * `[registry[:port]/]path[:tag][@digest]`. parseReference completes a name
 * without a registry with the one it is given, docker.io by default (docker's
 * normalization: on docker.io a one-part name gets `library/`, busybox ->
 * docker.io/library/busybox). Which registry a short name means depends on
 * what is done with it: podman names what it makes `localhost/NAME`
 * (LOCALHOST), looks names up and pulls them through registries.conf
 * (registries-conf/).
 */
import { HutchError } from '../errors.js';
import { isDigest, type Digest } from './digest.js';

export interface ImageReference {
  registry: string;
  repository: string;
  tag: string | undefined;
  digest: Digest | undefined;
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;
const TAG = /^[\w][\w.-]{0,127}$/;
const DOMAIN =
  /^(?:localhost|[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*|\[[0-9a-fA-F:]+\])(?::\d+)?$/;

export const DOCKER_HUB = 'docker.io';
/** The registry of the images podman makes (build, tag, import, commit, load): never one to pull from. */
export const LOCALHOST = 'localhost';

function invalid(input: string, why: string): HutchError {
  return new HutchError(`invalid image reference ${JSON.stringify(input)}: ${why}`, {
    hint: 'write [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST], e.g. localhost:5000/team/app:1.0',
  });
}

/** Is the first path part a registry host (docker's rule)? */
function isRegistryPart(part: string): boolean {
  return part === 'localhost' || part.includes('.') || part.includes(':') || part.startsWith('[');
}

/**
 * A short name names no registry (`app`, `team/app:1`, `app@sha256:…`); podman
 * resolves it through aliases, localhost/ and unqualified-search-registries.
 */
export function isShortName(input: string): boolean {
  const name = input.split('@')[0] as string;
  const slash = name.indexOf('/');
  return slash < 0 || !isRegistryPart(name.slice(0, slash));
}

export function parseReference(input: string, defaultRegistry: string = DOCKER_HUB): ImageReference {
  if (input.length === 0 || input.length > 4096) throw invalid(input, 'empty or too long');
  let rest = input;
  let digest: Digest | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    const d = rest.slice(at + 1);
    if (!isDigest(d)) throw invalid(input, `${JSON.stringify(d)} is not a sha256 or sha512 digest`);
    digest = d;
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastSlash = rest.lastIndexOf('/');
  const colon = rest.lastIndexOf(':');
  if (colon > lastSlash) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG.test(tag)) throw invalid(input, `${JSON.stringify(tag)} is not a valid tag`);
  }
  const parts = rest.split('/');
  let registry = defaultRegistry;
  if (parts.length > 1 && isRegistryPart(parts[0] as string)) {
    registry = parts.shift() as string;
    if (!DOMAIN.test(registry)) throw invalid(input, `${JSON.stringify(registry)} is not a registry host`);
  }
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  for (const part of parts) {
    if (!COMPONENT.test(part)) {
      throw invalid(input, `${JSON.stringify(part)} must be lowercase letters, digits and separators (. _ __ -)`);
    }
  }
  if (registry === DOCKER_HUB && parts.length === 1) parts.unshift('library');
  const repository = parts.join('/');
  if (repository.length > 255) throw invalid(input, 'the name is longer than 255 characters');
  return { registry, repository, tag: tag ?? (digest === undefined ? 'latest' : undefined), digest };
}

/** registry/repository, without tag or digest. */
export function repositoryName(ref: ImageReference): string {
  return `${ref.registry}/${ref.repository}`;
}

/** The full form: registry/repository[:tag][@digest]. */
export function formatReference(ref: ImageReference): string {
  return `${repositoryName(ref)}${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
}

/** Whether the text names a tag itself (parseReference fills in `latest` when it does not). */
export function hasExplicitTag(input: string): boolean {
  const name = input.split('@')[0] as string;
  return name.lastIndexOf(':') > name.lastIndexOf('/');
}
