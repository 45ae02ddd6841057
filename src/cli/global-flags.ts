// podman's global flags, given before the verb (`hutch --root DIR --log-level debug ps`):
// checked, then put where every later step finds them. The directories and the
// storage driver go into the environment (HUTCH_STORAGE, HUTCH_RUNTIME,
// HUTCH_STORAGE_DRIVER), which src/host/dirs.ts and src/run/rootfs read, so the
// command this one re-execs into the session and the monitor's cleanup command
// of a container started now use them too.
import { basename, dirname, resolve } from 'node:path';
import { Writable } from 'node:stream';
import { Option, type Command } from 'commander';
import { HutchError } from '../errors.js';
import { resolvePaths } from '../host/dirs.js';
import { currentIdentity } from '../host/identity.js';
import { findOnPath } from '../host/idmap.js';
import { storageDriverOf } from '../run/rootfs/probe.js';
import { LOG_LEVELS, isLogLevel, log, setLogLevel } from './log.js';

export interface GlobalFlagValues {
  root?: string;
  runroot?: string;
  storageDriver?: string;
  logLevel?: string;
  debug?: boolean;
  noout?: boolean;
  runtime?: string;
  cgroupManager?: string;
  eventsBackend?: string;
  tmpdir?: string;
  url?: string;
  remote?: boolean;
  connection?: string;
  identity?: string;
}

/**
 * A refusal podman prints without its `Error: ` prefix, with its own exit
 * status (1 for --log-level, which podman checks before anything else).
 */
export class GlobalFlagExit extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
    this.name = 'GlobalFlagExit';
  }
}

const REMOTE_HINT = 'run hutch on the machine that holds the containers (ssh HOST hutch …)';

export function addGlobalFlags(program: Command): Command {
  return program
    .option('--root <path>', 'where images, containers and volumes are stored (default: $XDG_DATA_HOME/hutch)')
    .option(
      '--runroot <path>',
      "where running containers' state, sockets and locks are kept (default: $XDG_RUNTIME_DIR/hutch)",
    )
    .option(
      '--storage-driver <driver>',
      "overlay (overlayfs, or fuse-overlayfs) or vfs (a full copy per container) for the containers' root file systems",
    )
    .option('--log-level <level>', `log messages at this level and above (${LOG_LEVELS.join(', ')})`, 'warn')
    .addOption(new Option('-D, --debug', 'docker compatibility: --log-level=debug').hideHelp())
    .option('--noout', 'do not print to stdout')
    .option(
      '--runtime <path>',
      'accepted for podman scripts: hutch runs containers itself, the runtime named is only checked to exist',
    )
    .option(
      '--cgroup-manager <manager>',
      'cgroupfs or systemd, accepted for podman scripts: hutch writes the cgroup files of its delegated subtree itself',
    )
    .option(
      '--events-backend <backend>',
      'file, journald or none, accepted for podman scripts: hutch keeps no event log',
    )
    .option(
      '--tmpdir <path>',
      "accepted for podman scripts: hutch keeps libpod's temporary state in its runtime directory",
    )
    .option('--url <url>', 'refused: hutch has no service to connect to')
    .option('-r, --remote', 'refused: hutch has no service to connect to')
    .addOption(new Option('-c, --connection <name>', 'refused: hutch has no service to connect to').hideHelp())
    .addOption(new Option('--identity <path>', 'refused: hutch has no service to connect to').hideHelp());
}

/** An executable file at path, or a command of that name on PATH. */
function findExecutable(name: string, pathVar: string | undefined): string | undefined {
  if (!name.includes('/')) return findOnPath(name, pathVar);
  const path = resolve(name);
  return findOnPath(basename(path), dirname(path));
}

/** Checks the flags and applies them: the environment, the log level, stdout. Runs before every verb. */
export function applyGlobalFlags(o: GlobalFlagValues, argv: readonly string[], env: NodeJS.ProcessEnv): void {
  const level = o.logLevel ?? 'warn';
  if (!isLogLevel(level)) {
    throw new GlobalFlagExit(
      `Log Level ${JSON.stringify(level)} is not supported, choose from: ${LOG_LEVELS.join(', ')}`,
      1,
    );
  }
  if (o.debug === true) {
    if (argv.some((arg) => arg === '--log-level' || arg.startsWith('--log-level='))) {
      throw new GlobalFlagExit('Setting --log-level and --debug is not allowed', 1);
    }
    setLogLevel('debug');
  } else setLogLevel(level);

  if (o.url !== undefined || o.remote === true || o.connection !== undefined || o.identity !== undefined) {
    const flag =
      o.url !== undefined
        ? '--url'
        : o.remote === true
          ? '--remote'
          : o.connection !== undefined
            ? '--connection'
            : '--identity';
    throw new HutchError(`${flag} is not supported: hutch has no service to connect to, it runs containers itself`, {
      hint: REMOTE_HINT,
    });
  }
  if (o.runtime !== undefined && findExecutable(o.runtime, env.PATH) === undefined) {
    throw new HutchError(`default OCI runtime ${JSON.stringify(o.runtime)} not found: invalid argument`, {
      hint: 'hutch runs containers itself: leave --runtime out',
    });
  }
  if (o.cgroupManager !== undefined && !['cgroupfs', 'systemd'].includes(o.cgroupManager)) {
    throw new HutchError('configuring runtime: cgroup manager must be one of cgroupfs and systemd: invalid argument');
  }
  if (o.eventsBackend !== undefined && !['file', 'journald', 'none'].includes(o.eventsBackend)) {
    throw new HutchError(
      `configuring runtime: ${JSON.stringify(o.eventsBackend)} is not a valid events backend: invalid argument`,
    );
  }
  const storageDriver = storageDriverOf(o.storageDriver);

  if (o.root !== undefined) env.HUTCH_STORAGE = resolve(o.root);
  if (o.runroot !== undefined) env.HUTCH_RUNTIME = resolve(o.runroot);
  if (storageDriver !== undefined) env.HUTCH_STORAGE_DRIVER = storageDriver;
  if (o.noout === true) silenceStdout();

  log.info(`hutch filtering at log level ${o.debug === true ? 'debug' : level}`);
  log.debug(`Called hutch ${argv.slice(2).join(' ')}`);
  const paths = resolvePaths(env, currentIdentity(env).uid);
  log.debug(`Using graph root ${paths.storage}`);
  log.debug(`Using run root ${paths.runtime}`);
  log.debug(
    `Using storage driver ${env.HUTCH_STORAGE_DRIVER ?? '(the first that works: overlay, fuse-overlayfs, vfs)'}`,
  );
  if (o.runtime !== undefined) log.debug(`--runtime ${o.runtime} is not used: hutch runs containers itself`);
}

/**
 * --noout: what the command prints on stdout goes nowhere, as podman's
 * os.Stdout on /dev/null. process.stdout is a configurable getter of node's.
 */
function silenceStdout(): void {
  const sink = new Writable({
    write(_chunk, _encoding, callback) {
      callback();
    },
  });
  Object.defineProperty(process, 'stdout', { configurable: true, enumerable: false, get: () => sink });
}
