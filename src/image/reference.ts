/**
 * Image references as docker and podman read them:
 * `[registry[:port]/]path[:tag][@digest]`. A name without a registry resolves
 * to the first of `unqualified-search-registries` in registries.conf (podman's
 * setting), docker.io when none is set; on docker.io a one-part name gets
 * `library/` (busybox -> docker.io/library/busybox).
 */
import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { HutchError, withContext } from '../errors.js';
import { isDigest, type Digest } from './digest.js';
import { ifExists } from '../fs/missing.js';

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

function invalid(input: string, why: string): HutchError {
  return new HutchError(`invalid image reference ${JSON.stringify(input)}: ${why}`, {
    hint: 'write [REGISTRY[:PORT]/]NAME[:TAG][@sha256:DIGEST], e.g. localhost:5000/team/app:1.0',
  });
}

/** Is the first path part a registry host (docker's rule)? */
function isRegistryPart(part: string): boolean {
  return part === 'localhost' || part.includes('.') || part.includes(':') || part.startsWith('[');
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

/**
 * The registry for names without one: the first entry of
 * `unqualified-search-registries` in the user's, then the system's
 * registries.conf (containers-registries.conf(5)); docker.io otherwise.
 */
export function defaultRegistry(env: NodeJS.ProcessEnv = process.env): string {
  const configHome = env.XDG_CONFIG_HOME?.startsWith('/')
    ? env.XDG_CONFIG_HOME
    : join(env.HOME ?? homedir(), '.config');
  const files = [
    env.CONTAINERS_REGISTRIES_CONF,
    join(configHome, 'containers', 'registries.conf'),
    '/etc/containers/registries.conf',
  ];
  for (const file of files) {
    if (file === undefined) continue;
    let text: string | undefined;
    try {
      text = ifExists(() => readFileSync(file, 'utf8'));
    } catch (error) {
      throw withContext('registries', `read ${file}`, error);
    }
    if (text === undefined) continue;
    const registries = searchRegistries(text);
    if (registries !== undefined) return registries[0] ?? DOCKER_HUB;
  }
  return DOCKER_HUB;
}

/** The `unqualified-search-registries = [...]` array of a registries.conf (TOML), if set at top level. */
export function searchRegistries(toml: string): string[] | undefined {
  const text = toml.replace(/#[^\n]*/g, '');
  const top = text.split(/^\s*\[/m)[0] ?? '';
  const match = /^\s*unqualified-search-registries\s*=\s*\[([^\]]*)\]/m.exec(top);
  if (match === null) return undefined;
  return [...(match[1] as string).matchAll(/"([^"]*)"|'([^']*)'/g)].map((m) => (m[1] ?? m[2]) as string);
}

/** Whether the text names a tag itself (parseReference fills in `latest` when it does not). */
export function hasExplicitTag(input: string): boolean {
  const name = input.split('@')[0] as string;
  return name.lastIndexOf(':') > name.lastIndexOf('/');
}
