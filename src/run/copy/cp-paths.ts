/**
 * The path rules of `podman cp` (its pkg/copy and cmd/podman/containers/cp.go),
 * pure: how an argument names a container, how a path keeps the "/" or "/."
 * it ends with (they decide what is copied), and how a container path is made
 * absolute against the working directory.
 */
import { posix } from 'node:path';

export interface CpArgument {
  /** The container's name or id; undefined for a host path. */
  container: string | undefined;
  path: string;
}

/**
 * `[CONTAINER:]PATH`: a colon splits a container from its path, unless the
 * argument begins with "." or "/" (so `./a:b` and `/x/a:b` are host paths).
 */
export function parseCpArgument(input: string): CpArgument {
  if (input === '' || input.startsWith('.') || input.startsWith('/')) return { container: undefined, path: input };
  const colon = input.indexOf(':');
  if (colon < 0) return { container: undefined, path: input };
  return { container: input.slice(0, colon), path: input.slice(colon + 1) };
}

/** Go's filepath.Clean for an absolute path (no trailing slash, no "." or ".."). */
function clean(path: string): string {
  return posix.normalize(path).replace(/(.)\/+$/, '$1');
}

/**
 * resolved, with the ending of original put back: a trailing "/" (the
 * destination must be a directory) or "/." (a directory's content, not the
 * directory), which path cleaning drops.
 */
export function preserveBasePath(original: string, resolved: string): string {
  if (original.endsWith('/')) return resolved.endsWith('/') ? resolved : `${resolved}/`;
  if (original.endsWith('/.')) {
    if (resolved.endsWith('/')) return `${resolved}.`;
    return resolved.endsWith('/.') ? resolved : `${resolved}/.`;
  }
  return resolved;
}

/** A container path, absolute: relative ones start at workdir. Clean, the ending kept (preserveBasePath). */
export function containerPathAbs(path: string, workdir: string): string {
  const absolute = path.startsWith('/') ? path : `${clean(`/${workdir}`)}/${path}`;
  return preserveBasePath(path, clean(absolute));
}

/** A host path, absolute against cwd, the ending kept. */
export function hostPathAbs(path: string, cwd: string): string {
  return preserveBasePath(path, clean(posix.resolve(cwd, path)));
}

/** Go's filepath.Base: the last element, trailing slashes ignored; "/" for the root. */
export function baseName(path: string): string {
  const trimmed = path.replace(/\/+$/, '');
  if (trimmed === '') return path === '' ? '.' : '/';
  return trimmed.slice(trimmed.lastIndexOf('/') + 1);
}

/** Whether an absolute path asks for a directory's content rather than the directory ("DIR/."). */
export function namesContent(path: string): boolean {
  return path.endsWith('/.');
}

/** A path without its "/.", naming the directory itself. */
export function withoutContentSuffix(path: string): string {
  return path.endsWith('/.') ? path.slice(0, -2) || '/' : path;
}
