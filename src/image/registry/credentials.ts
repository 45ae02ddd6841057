/**
 * Registry credentials in the files podman and docker keep them in
 * (containers-auth.json(5), docker's config.json).
 *
 * Where hutch writes (podman 4's rule, so `podman login` and `hutch login` share a file):
 *   $REGISTRY_AUTH_FILE, else $XDG_RUNTIME_DIR/containers/auth.json when
 *   XDG_RUNTIME_DIR is a directory of ours, else (podman sets XDG_RUNTIME_DIR
 *   itself when it is unset) /run/user/UID when it is ours and private, else
 *   $TMPDIR/podman-run-UID, else $HOME/rundir. Real root without
 *   XDG_RUNTIME_DIR: /run/containers/0/auth.json (containers/image's default).
 * The last two are podman's fallbacks for cron jobs, CI and `su`, where there
 *   is no session directory. $TMPDIR is shared with every local user: one who
 *   made podman-run-UID first could replace the file and have you push with
 *   their account. So each fallback is used only when every directory from it
 *   down to containers/ is ours and no one else may write to it (notPrivate in
 *   src/host/dirs.ts, the check the session's /tmp/hutch-UID gets), looked at on
 *   every read and again after creating them on write; with neither usable,
 *   hutch refuses (exit 125) and says what to set instead.
 * Where hutch looks, in order, the first file with an entry winning: that file,
 *   $XDG_CONFIG_HOME/containers/auth.json (podman reads it too), then
 *   $HOME/.docker/config.json.
 * Keys are `registry` or `registry/path`: the longest prefix of
 * `registry/repository` wins. Docker's `https://index.docker.io/v1/` reads as docker.io.
 */
import { randomBytes } from 'node:crypto';
import {
  closeSync,
  fsyncSync,
  mkdirSync,
  openSync,
  readFileSync,
  realpathSync,
  renameSync,
  statSync,
  unlinkSync,
  writeSync,
} from 'node:fs';
import { homedir, tmpdir } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { HutchError } from '../../errors.js';
import { ensurePrivateDir, notPrivate, notPrivateText } from '../../host/dirs.js';
import type { Credentials } from './auth.js';

export type { Credentials } from './auth.js';

export interface AuthEntry {
  auth?: string;
  identitytoken?: string;
  [other: string]: unknown;
}

/** The JSON of an auth file; fields hutch does not know are kept as they are. */
export interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
  [other: string]: unknown;
}

export interface AuthLocations {
  /** Where login writes and logout removes. */
  write: string;
  /**
   * Set when `write` is one of podman's fallbacks in a shared place: every
   * directory from this one down to the file's must be private to us when
   * they are created (writeAuthFile's privateFrom).
   */
  privateFrom?: string;
  /** Where lookups look, in order (write first). */
  read: string[];
  /** docker's config.json (read only), for messages. */
  docker: string;
}

export interface AuthEnvironment {
  env: NodeJS.ProcessEnv;
  /** Our uid as the host sees it (not 0 inside hutch's session). */
  hostUid: number;
  /** True for real root. */
  root: boolean;
}

function isAbsolute(value: string | undefined): value is string {
  return value !== undefined && value.startsWith('/');
}

/** A directory owned by us (as this namespace sees it), optionally with owner rwx. */
function ownDirectory(path: string, requireRwx = false): boolean {
  try {
    const st = statSync(path);
    return st.isDirectory() && st.uid === process.getuid?.() && (!requireRwx || (st.mode & 0o700) === 0o700);
  } catch {
    return false;
  }
}

/** The auth file and, for a fallback in a shared place, the directory its privacy is checked from. */
export interface AuthFileLocation {
  path: string;
  privateFrom?: string;
}

const FALLBACK_HINT =
  'set REGISTRY_AUTH_FILE to a file in a directory only you can write (or give --authfile), ' +
  'or XDG_RUNTIME_DIR to a directory of yours, as a login session has';

/** The auth file podman 4 would use for this user (see the header comment). */
export function defaultAuthLocation({ env, hostUid, root }: AuthEnvironment): AuthFileLocation {
  if (env.REGISTRY_AUTH_FILE !== undefined && env.REGISTRY_AUTH_FILE !== '') return { path: env.REGISTRY_AUTH_FILE };
  const xdg = env.XDG_RUNTIME_DIR;
  if (isAbsolute(xdg) && ownDirectory(xdg)) return { path: join(xdg, 'containers', 'auth.json') };
  if (root) return { path: join('/run/containers', String(hostUid), 'auth.json') };
  const runUser = join('/run/user', String(hostUid));
  if (ownDirectory(runUser, true) && notPrivate(runUser, runUser) === undefined) {
    return { path: join(runUser, 'containers', 'auth.json') };
  }
  const tmp = join(isAbsolute(env.TMPDIR) ? env.TMPDIR : tmpdir(), `podman-run-${hostUid}`);
  const tmpProblem = notPrivate(tmp, join(tmp, 'containers'));
  if (tmpProblem === undefined) return { path: join(tmp, 'containers', 'auth.json'), privateFrom: tmp };
  // podman's last resort, when the one in $TMPDIR is not ours: $HOME/rundir, symbolic links resolved.
  const home = isAbsolute(env.HOME) ? env.HOME : homedir();
  let resolved: string;
  try {
    resolved = realpathSync(home);
  } catch (error) {
    throw new HutchError(
      `registry credentials directory ${notPrivateText(tmpProblem)}, and $HOME/rundir cannot take its place: ${(error as Error).message}`,
      { hint: FALLBACK_HINT },
    );
  }
  const rundir = join(resolved, 'rundir');
  const problem = notPrivate(rundir, join(rundir, 'containers'));
  if (problem === undefined) return { path: join(rundir, 'containers', 'auth.json'), privateFrom: rundir };
  throw new HutchError(`registry credentials directory ${notPrivateText(problem)}`, {
    hint: `${notPrivateText(tmpProblem)} too; ${FALLBACK_HINT}`,
  });
}

/** The path of defaultAuthLocation. */
export function defaultAuthFile(environment: AuthEnvironment): string {
  return defaultAuthLocation(environment).path;
}

export function authLocations(environment: AuthEnvironment, authFile?: string): AuthLocations {
  const { env } = environment;
  const home = isAbsolute(env.HOME) ? env.HOME : homedir();
  const location = authFile !== undefined ? { path: authFile } : defaultAuthLocation(environment);
  const write = location.path;
  const configHome = isAbsolute(env.XDG_CONFIG_HOME) ? env.XDG_CONFIG_HOME : join(home, '.config');
  const docker = join(isAbsolute(env.DOCKER_CONFIG) ? env.DOCKER_CONFIG : join(home, '.docker'), 'config.json');
  // An explicit --authfile is the only place looked at, as with podman.
  const read =
    authFile !== undefined ? [write] : [...new Set([write, join(configHome, 'containers', 'auth.json'), docker])];
  return location.privateFrom === undefined
    ? { write, read, docker }
    : { write, privateFrom: location.privateFrom, read, docker };
}

/** Reads an auth file; a missing file reads as empty, a broken one is an error naming it. */
export function readAuthFile(path: string): AuthFile {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new HutchError(`cannot read the credentials in ${path}: ${(error as Error).message}`, { cause: error });
  }
  if (text.trim() === '') return {};
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new HutchError(`${path} is not valid JSON: ${(error as Error).message}`, {
      hint: `fix or remove ${path}`,
      cause: error,
    });
  }
  if (json === null || typeof json !== 'object' || Array.isArray(json)) {
    throw new HutchError(`${path} is not a JSON object`, { hint: `fix or remove ${path}` });
  }
  const file = json as AuthFile;
  if (file.auths !== undefined && (file.auths === null || typeof file.auths !== 'object')) {
    throw new HutchError(`${path}: "auths" is not an object`, { hint: `fix or remove ${path}` });
  }
  return file;
}

/**
 * Writes an auth file atomically (a temp file in the same directory, fsynced,
 * renamed over), mode 0600, creating its directory 0700. With privateFrom,
 * every directory from it down to the file's is checked once they exist, so
 * that one another user made in the meantime is refused, not written into.
 */
export function writeAuthFile(path: string, content: AuthFile, privateFrom?: string): void {
  const dir = dirname(path);
  if (privateFrom !== undefined) {
    ensurePrivateDir(dir, { base: privateFrom, what: 'registry credentials directory', hint: FALLBACK_HINT });
  } else {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
  }
  const temp = join(dir, `.${basename(path)}.${randomBytes(6).toString('hex')}`);
  const fd = openSync(temp, 'wx', 0o600);
  try {
    writeSync(fd, `${JSON.stringify(content, null, '\t')}\n`);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    unlinkSync(temp);
    throw error;
  }
  closeSync(fd);
  try {
    renameSync(temp, path);
  } catch (error) {
    unlinkSync(temp);
    throw error;
  }
}

/**
 * The normal form of a key: docker's URL keys (`https://host/v1/`) become the
 * host; Docker Hub's other names become docker.io; `registry/path` stays.
 */
export function normalizeKey(key: string): string {
  let k = key.trim();
  const scheme = /^[a-z][a-z0-9+.-]*:\/\//i.exec(k);
  if (scheme !== null) k = (k.slice(scheme[0].length).split('/')[0] ?? '').toLowerCase();
  k = k.replace(/\/+$/, '');
  const [host, ...rest] = k.split('/');
  const hub = host === 'index.docker.io' || host === 'registry-1.docker.io' ? 'docker.io' : host;
  return [hub, ...rest].join('/');
}

/** The registry part of a login target (`quay.io/team` → quay.io). */
export function registryOfKey(key: string): string {
  return normalizeKey(key).split('/')[0] ?? '';
}

/**
 * The key of `file` that applies to `target` (`registry/repository`, or just a
 * registry): an exact match, else the longest `key/` prefix.
 */
export function matchKey(keys: string[], target: string): string | undefined {
  const want = normalizeKey(target);
  let best: { key: string; length: number; exact: boolean } | undefined;
  for (const key of keys) {
    const k = normalizeKey(key);
    if (k === '' || !(want === k || want.startsWith(`${k}/`))) continue;
    // A key written in its normal form beats an equivalent legacy one.
    const exact = key === k;
    if (best === undefined || k.length > best.length || (k.length === best.length && exact && !best.exact)) {
      best = { key, length: k.length, exact };
    }
  }
  return best?.key;
}

function decodeEntry(entry: AuthEntry, key: string, path: string): Credentials | undefined {
  if (typeof entry.identitytoken === 'string' && entry.identitytoken !== '') {
    return { identitytoken: entry.identitytoken };
  }
  if (typeof entry.auth !== 'string' || entry.auth === '') return undefined;
  const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) {
    throw new HutchError(`the credentials for ${key} in ${path} are malformed (no user:password)`, {
      hint: `log in again: hutch login ${registryOfKey(key)}`,
    });
  }
  return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

function helperError(registry: string, path: string, helper: string): HutchError {
  return new HutchError(
    `the credentials for ${registry} are kept by the credential helper docker-credential-${helper} (${path}); credential helpers are not supported yet`,
    { hint: `log in with hutch itself: hutch login ${registry}` },
  );
}

export interface Found {
  credentials: Credentials;
  /** The file and key they came from. */
  file: string;
  key: string;
}

/** The credentials in one parsed file for `target` (`registry[/repository]`). */
export function credentialsIn(file: AuthFile, path: string, target: string): Found | undefined {
  const registry = registryOfKey(target);
  const helpers = file.credHelpers ?? {};
  const helperKey = matchKey(Object.keys(helpers), registry);
  const auths = file.auths ?? {};
  const key = matchKey(Object.keys(auths), target);
  if (key !== undefined) {
    const entry = auths[key] ?? {};
    const credentials = decodeEntry(entry, key, path);
    if (credentials !== undefined) return { credentials, file: path, key };
    // docker leaves `{}` in auths for what its credsStore holds.
    if (typeof file.credsStore === 'string' && file.credsStore !== '' && helperKey === undefined) {
      throw helperError(registry, path, file.credsStore);
    }
  }
  if (helperKey !== undefined) throw helperError(registry, path, helpers[helperKey] ?? '?');
  return undefined;
}

/** The credentials for `target` (`registry[/repository]`) from the first file that has them. */
export function lookupCredentials(locations: AuthLocations, target: string): Found | undefined {
  for (const path of locations.read) {
    const found = credentialsIn(readAuthFile(path), path, target);
    if (found !== undefined) return found;
  }
  return undefined;
}

/** The keys a login target is stored under (podman's form first; docker.io's legacy key too). */
function equivalentKeys(file: AuthFile, key: string): string[] {
  const normal = normalizeKey(key);
  return Object.keys(file.auths ?? {}).filter((k) => normalizeKey(k) === normal);
}

/** Stores credentials under `key` (`registry` or `registry/path`) in the auth file at `path`. */
export function storeCredentials(path: string, key: string, credentials: Credentials, privateFrom?: string): void {
  const file = readAuthFile(path);
  const auths = { ...(file.auths ?? {}) };
  for (const k of equivalentKeys(file, key)) delete auths[k];
  const entry: AuthEntry =
    'identitytoken' in credentials
      ? { auth: Buffer.from('<token>:').toString('base64'), identitytoken: credentials.identitytoken }
      : { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  auths[normalizeKey(key)] = entry;
  writeAuthFile(path, { ...file, auths }, privateFrom);
}

/** Removes the entry of `key` (and its equivalent legacy keys); false when there was none. */
export function removeCredentials(path: string, key: string, privateFrom?: string): boolean {
  const file = readAuthFile(path);
  const keys = equivalentKeys(file, key);
  if (keys.length === 0) return false;
  const auths = { ...(file.auths ?? {}) };
  for (const k of keys) delete auths[k];
  writeAuthFile(path, { ...file, auths }, privateFrom);
  return true;
}

/** Removes every entry of the auth file at `path` (other fields stay). */
export function removeAllCredentials(path: string, privateFrom?: string): void {
  const file = readAuthFile(path);
  if (file.auths === undefined || Object.keys(file.auths).length === 0) return;
  writeAuthFile(path, { ...file, auths: {} }, privateFrom);
}
