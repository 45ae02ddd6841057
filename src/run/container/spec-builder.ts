/**
 * From a container's config (its run options and its image's config) to the
 * ContainerSpec its plan is built from, with docker's rules for entrypoint and
 * command, environment, user, working directory and hostname.
 */
import { closeSync, readFileSync } from 'node:fs';
import { ExitCode, HutchError, SyscallError } from '../../errors.js';
import type { Identity } from '../../host/identity.js';
import { rlimitSpecs } from '../rlimits.js';
import { containerCapabilities } from '../security/capabilities.js';
import { seccompFor } from '../security/seccomp/default.js';
import { parseSecurityOpts } from '../security/security-options.js';
import { defaultDevices, defaultMaskedPaths, defaultReadonlyPaths } from './mount-defaults.js';
import { O_PATH, openInRoot, pathOfFd } from '../../fs/in-root.js';
import type { ContainerSpec, IdMapping, MountSpec } from './spec.js';
import type { Container } from './store.js';
import { resolveUser, type ResolvedUser } from './user.js';
import { isMissing } from '../../fs/missing.js';

export const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** The argv a container runs: docker's rules for --entrypoint, CMD and the command line. */
export function containerArgs(container: Container): string[] {
  const { options, imageConfig } = container.config;
  const entrypoint = options.entrypoint ?? imageConfig.Entrypoint ?? [];
  // A new entrypoint drops the image's CMD (docker), a command line replaces it.
  const command =
    options.command !== undefined && options.command.length > 0
      ? options.command
      : options.entrypoint !== undefined
        ? []
        : (imageConfig.Cmd ?? []);
  const args = [...entrypoint, ...command];
  if (args.length === 0) {
    throw new HutchError('no command or entrypoint given, and the image has no CMD or ENTRYPOINT', {
      hint: 'name the command after the image: hutch run IMAGE COMMAND…',
    });
  }
  return args;
}

/** A text file of the rootfs, read through openat2(RESOLVE_IN_ROOT); null when it is not there. */
export function readInRoot(root: string, path: string): string | null {
  let fd: number;
  try {
    fd = openInRoot(root, path, O_PATH, 0);
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  }
  try {
    return readFileSync(pathOfFd(fd), 'utf8');
  } catch (error) {
    if (isMissing(error)) return null;
    throw error;
  } finally {
    closeSync(fd);
  }
}

function envName(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/** Later entries win; order of first appearance is kept. */
export function mergeEnv(...lists: string[][]): string[] {
  const merged = new Map<string, string>();
  for (const list of lists) for (const entry of list) merged.set(envName(entry), entry);
  return [...merged.values()];
}

/**
 * --userns=keep-id: the user's own id inside, as podman does: container uid U
 * is the session's 0 (the user on the host), 0..U-1 are the session's 1..U,
 * and the rest of the session's range follows. Only what the session maps.
 */
export function keepIdMapping(hostId: number, sessionSize: number): IdMapping[] {
  const maps: IdMapping[] = [{ inside: hostId, outside: 0, count: 1 }];
  if (hostId > 0) maps.unshift({ inside: 0, outside: 1, count: Math.min(hostId, sessionSize - 1) });
  const rest = sessionSize - 1 - hostId;
  if (rest > 0) maps.push({ inside: hostId + 1, outside: hostId + 1, count: rest });
  return maps;
}

function sessionIdCount(kind: 'uid' | 'gid'): number {
  try {
    return readFileSync(`/proc/self/${kind}_map`, 'utf8')
      .trim()
      .split('\n')
      .map((l) => Number(l.trim().split(/\s+/)[2]))
      .reduce((a, b) => a + b, 0);
  } catch {
    // no /proc here: count the one id every session maps
    return 1;
  }
}

export interface SpecInputs {
  container: Container;
  identity: Identity;
  rootfs: string;
  mounts: MountSpec[];
  etcFiles: ContainerSpec['etcFiles'];
  /** Host path of bin/hutch, bound at /run/hutch-init with --init. */
  initBinary: string;
  /** The network namespace (src/run/network namespaceFor); default: by --network none|host. */
  network?: ContainerSpec['network'];
}

/**
 * The user a container's process runs as, ids as the container sees them:
 * --user, else (--userns=keep-id) the user's own ids, else the image's USER,
 * resolved against the rootfs's /etc/passwd and /etc/group.
 */
export function containerUser(container: Container, identity: Identity, rootfs: string): ResolvedUser {
  const { options, imageConfig } = container.config;
  const accounts = { passwd: readInRoot(rootfs, '/etc/passwd'), group: readInRoot(rootfs, '/etc/group') };
  const userSpec =
    options.user ?? (options.userns === 'keep-id' ? `${identity.uid}:${identity.gid}` : imageConfig.User);
  return resolveUser(userSpec === '' ? undefined : userSpec, accounts, options.groupAdd);
}

/** The id maps of the container's own user namespace (--userns=keep-id); undefined: it has the session's. */
export function containerIdMaps(
  options: Container['config']['options'],
  identity: Identity,
): { uidMap: IdMapping[]; gidMap: IdMapping[] } | undefined {
  if (options.userns !== 'keep-id') return undefined;
  return {
    uidMap: keepIdMapping(identity.uid, sessionIdCount('uid')),
    gidMap: keepIdMapping(identity.gid, sessionIdCount('gid')),
  };
}

export function buildSpec(inputs: SpecInputs): ContainerSpec {
  const { container, identity, rootfs } = inputs;
  const { options, imageConfig, id } = container.config;
  if (
    options.userns !== undefined &&
    options.userns !== '' &&
    options.userns !== 'keep-id' &&
    options.userns !== 'host'
  ) {
    throw new HutchError(`unsupported --userns ${options.userns}`, { hint: 'use keep-id, or leave it out' });
  }
  const user = containerUser(container, identity, rootfs);
  const hostname = options.hostname ?? id.slice(0, 12);
  const args = containerArgs(container);
  const env = mergeEnv(
    [`PATH=${DEFAULT_PATH}`],
    options.tty ? ['TERM=xterm'] : [],
    imageConfig.Env ?? [],
    [`HOSTNAME=${hostname}`, `container=hutch`],
    options.env,
  );
  if (!env.some((e) => envName(e) === 'HOME')) env.push(`HOME=${user.home}`);
  const capabilities = containerCapabilities({
    uid: user.uid,
    capAdd: options.capAdd,
    capDrop: options.capDrop,
    privileged: options.privileged,
  });
  const security = parseSecurityOpts(options.securityOpt);
  let profile = security.seccomp;
  const noNewPrivileges = security.noNewPrivileges ?? true;
  if (options.privileged) profile = 'unconfined';
  const seccomp = seccompFor({ profile, capabilities });
  return {
    id,
    rootfs,
    readonlyRootfs: options.readOnly,
    hostname,
    etcFiles: inputs.etcFiles,
    mounts: inputs.mounts,
    devices: [...defaultDevices],
    maskedPaths: options.privileged ? [] : [...defaultMaskedPaths],
    readonlyPaths: options.privileged ? [] : [...defaultReadonlyPaths],
    network: inputs.network ?? (options.network === 'host' ? { mode: 'host' } : { mode: 'new' }),
    userNamespace: containerIdMaps(options, identity),
    init: options.init ? inputs.initBinary : undefined,
    process: {
      args,
      env,
      cwd: options.workdir ?? (imageConfig.WorkingDir || '/'),
      uid: user.uid,
      gid: user.gid,
      // podman and docker list the primary group among the supplementary ones too.
      additionalGids: [...new Set([user.gid, ...user.additionalGids])],
      terminal: options.tty,
      noNewPrivileges,
      capabilities,
      seccomp,
      rlimits: rlimitSpecs(options.ulimits),
      umask: 0o022,
    },
  };
}

/** The status a failed exec gives, as podman's runtime errors do: 127 not found, 126 cannot execute. */
export function execFailureStatus(code: string): number {
  return code === 'ENOENT' || code === 'ENOTDIR' ? ExitCode.NotFound : ExitCode.CannotExecute;
}

/**
 * A command that could not be started (its execve failed, or its working
 * directory led outside the container), in podman's words and statuses;
 * undefined for other errors.
 */
export function commandNotStarted(error: unknown, command: string): HutchError | undefined {
  if (error instanceof SyscallError && error.syscall === 'getcwd') {
    // The plan's VerifyCwd step: runc refuses the same (CVE-2024-21626).
    return new HutchError(
      `working directory ${JSON.stringify(error.path)} is outside the container's root: refused, as a possible container breakout`,
      {
        exitCode: ExitCode.CannotExecute,
        hint: 'the directory was replaced by a link that leaves the container (for example to /proc/self/fd/N); give another --workdir',
        cause: error,
      },
    );
  }
  if (!(error instanceof SyscallError && error.syscall === 'execve')) return undefined;
  const status = execFailureStatus(error.code);
  const what =
    status === ExitCode.NotFound
      ? `executable file \`${command}\` not found in $PATH`
      : `\`${command}\` cannot be executed`;
  return new HutchError(`${what}: ${error.message}`, { exitCode: status, cause: error });
}
