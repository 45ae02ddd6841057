/**
 * Containers on disk: one directory each under `<storage>/containers/<id>/`
 * (config.json, state.json, the overlay's upper/work/merged dirs, userdata/
 * with the /etc files, ctr.log) and the monitor's runtime directory under
 * `<runtime>/containers/<id>/` (attach socket, exit file, monitor.pid).
 *
 * config.json is written at create, and rewritten atomically only by update
 * and rename; state.json is rewritten atomically (temp + rename) under the
 * container's lock. The real state of a running container is the process
 * itself: reads reconcile state.json with /proc and the monitor's exit file,
 * so a killed hutch client never leaves a lie behind.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../../errors.js';
import type { Digest } from '../../image/digest.js';
import type { ContainerConfig as ImageRuntimeConfig } from '../../image/oci.js';
import { acquireLock, claimIfAbandoned, moveIntoTemp, tryLock } from '../../fs/lock.js';
import type { CgroupState, Limits } from '../cgroups/index.js';
import type { Ulimit } from '../rlimits.js';
import { readExitFile } from '../monitor.js';
import { processStartTime } from '../../host/proc.js';
import { detachMountsUnder, mountsUnder } from '../../host/detach-mounts.js';
import type { NetworkRequest, NetworkState } from '../network/index.js';
import type { RootfsDriverName } from '../rootfs/index.js';
import type { HealthState } from './health-log.js';
import type { HealthcheckConfig } from './healthcheck.js';
import type { LogConfig } from './log-config.js';
import type { RestartPolicy } from './restart-policy.js';
import type { MountSpec } from './spec.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';
import { isMissing } from '../../fs/missing.js';

export type ContainerStatus = 'created' | 'running' | 'exited' | 'stopped';

/** What `hutch run`/`create` decided, kept to start the container again (start, restart). */
export interface ContainerConfig {
  id: string;
  name: string;
  created: string;
  image: { id: Digest; name: string | undefined; manifest: Digest };
  /** The image's runtime config as it was at create (Env, Cmd, User, …). */
  imageConfig: ImageRuntimeConfig;
  /** The run options that shape the spec, as given (ContainerOptions below; spec-builder.ts turns them into a spec). */
  options: ContainerOptions;
  /** The rootfs driver that made upper/ (a container keeps it for life). */
  rootfsDriver: RootfsDriverName;
}

export interface ContainerOptions {
  command: string[] | undefined;
  entrypoint: string[] | undefined;
  /** -e and --env-file, in order (KEY=VALUE; a bare KEY took the host's value at create). */
  env: string[];
  user: string | undefined;
  groupAdd: string[];
  workdir: string | undefined;
  hostname: string | undefined;
  /** -v, --mount and --tmpfs, resolved at create (bind sources checked, volumes made). */
  mounts: MountSpec[];
  /** Volumes made for this container: anonymous ones go with it (rm -v, --rm). */
  createdVolumes: { name: string; anonymous: boolean }[];
  readOnly: boolean;
  init: boolean;
  capAdd: string[];
  capDrop: string[];
  privileged: boolean;
  securityOpt: string[];
  userns: string | undefined;
  /** --network as inspect shows it (NetworkMode). */
  network: string;
  /** The checked network flags every start attaches from (absent in containers made before networking). */
  networkRequest?: NetworkRequest;
  tty: boolean;
  interactive: boolean;
  autoRemove: boolean;
  stopSignal: string | undefined;
  stopTimeout: number | undefined;
  labels: Record<string, string>;
  /** --memory, --cpus, --pids-limit, …: written to the container's cgroup at each start. */
  resources?: Limits;
  /** --log-driver and --log-opt, checked (absent in containers made before them: k8s-file, unbounded). */
  log?: LogConfig;
  /** --ulimit, resolved at create: set in the container's process before its command (setrlimit). */
  ulimits?: Ulimit[];
  /** --health-* or the image's HEALTHCHECK (healthcheck.ts); absent: none. */
  healthcheck?: HealthcheckConfig;
  /** --restart (restart-policy.ts); absent: no. */
  restartPolicy?: RestartPolicy;
  /** --timeout: seconds after each start when the monitor kills the container. */
  timeout?: number;
  /** --tz: a zone of the host's /usr/share/zoneinfo, or local (the host's /etc/localtime). */
  timezone?: string;
}

export interface ContainerState {
  status: ContainerStatus;
  pid: number;
  /** Start time of pid in clock ticks after boot (/proc/PID/stat field 22), against pid reuse. */
  pidStartTime: number;
  monitorPid: number;
  startedAt: string | undefined;
  finishedAt: string | undefined;
  exitCode: number | undefined;
  /** Set when the container was killed by a signal. */
  signal: number | undefined;
  oomKilled: boolean;
  /** Why the last start failed, if it did. */
  error: string | undefined;
  restartCount: number;
  /** The network attached to the running container (helper, ports), until its cleanup detaches it. */
  network?: NetworkState;
  /** The container's own cgroup while it runs (src/run/cgroups); none where the host gives it none. */
  cgroup?: CgroupState | undefined;
  /** Its healthcheck's results (health-log.ts), with a healthcheck only. */
  health?: HealthState;
  /** A stop signalled this run and waits for it to exit (podman's "stopping"); meaningful while running. */
  stopping?: boolean | undefined;
}

export interface Container {
  config: ContainerConfig;
  state: ContainerState;
  dir: string;
  runtimeDir: string;
}

const ID = /^[a-f0-9]{64}$/;
/** Prefix of a container directory being removed (ContainerStore.remove). */
const REMOVED = '.removed-';
const NAME = /^[a-zA-Z0-9][a-zA-Z0-9_.-]*$/;

// Docker's style of names: an adjective and a scientist; enough for a user's machine.
const ADJECTIVES = [
  'agile',
  'brave',
  'calm',
  'eager',
  'fond',
  'gentle',
  'happy',
  'keen',
  'lucid',
  'merry',
  'nifty',
  'proud',
  'quiet',
  'sharp',
  'tender',
  'vivid',
  'wise',
  'zen',
];
const NAMES = [
  'babbage',
  'curie',
  'darwin',
  'euler',
  'fermi',
  'galois',
  'hopper',
  'jemison',
  'knuth',
  'lovelace',
  'meitner',
  'noether',
  'pascal',
  'ritchie',
  'shannon',
  'turing',
  'wozniak',
  'yalow',
];

/** podman's ErrNoSuchCtr: a name or id that names no container (rm --ignore skips them; rm exits 1 with it). */
export class NoSuchContainerError extends HutchError {
  constructor(
    readonly nameOrId: string,
    options: { exitCode?: number } = {},
  ) {
    super(`no container with name or ID "${nameOrId}" found: no such container`, {
      hint: 'hutch ps -a lists the containers',
      exitCode: options.exitCode,
    });
  }
}

export class ContainerStore {
  readonly root: string;
  readonly runtimeRoot: string;

  constructor(storage: string, runtime: string) {
    this.root = join(storage, 'containers');
    this.runtimeRoot = join(runtime, 'containers');
    mkdirSync(this.root, { recursive: true, mode: 0o700 });
    mkdirSync(this.runtimeRoot, { recursive: true, mode: 0o700 });
    this.sweepLeftovers();
  }

  /**
   * What dead commands left here, put right. A container's merged/ is mounted
   * while it runs, or while a command holds its lock (start, cp, commit,
   * cleanup, rm); mounted otherwise, it belonged to a start killed before the
   * container ran: it is unmounted. A directory without config.json that no
   * create (lockAll) nor rm (its lock) is working on, or a `.removed-*` no rm
   * holds, is what a killed create or rm left: it is removed. One read of
   * mountinfo and one readdir per command, a lock probe per such entry; never
   * throws. Returns what it unmounted or removed.
   */
  sweepLeftovers(): string[] {
    const swept: string[] = [];
    let mountinfo: string;
    let names: string[];
    try {
      mountinfo = readFileSync('/proc/self/mountinfo', 'utf8');
      names = readdirSync(this.root);
    } catch {
      // A sweep is housekeeping before the command: what it cannot read it leaves.
      return swept;
    }
    // Removals and creates cut short. Creates hold lockAll until config.json is written (last).
    let creates: (() => void) | null | undefined;
    try {
      for (const name of names) {
        const path = join(this.root, name);
        let release: (() => void) | undefined;
        if (name.startsWith(REMOVED)) {
          release = claimIfAbandoned(path);
        } else if (ID.test(name) && !existsSync(join(path, 'config.json'))) {
          creates ??= tryLock(join(this.root, '.lock')) ?? null;
          if (creates === null || existsSync(join(path, 'config.json'))) continue;
          // An rm holds the container's lock from before it removes config.json.
          release = existsSync(join(path, '.lock')) ? claimIfAbandoned(join(path, '.lock')) : () => undefined;
        }
        if (release === undefined) continue;
        try {
          detachMountsUnder(path, mountinfo);
          rmSync(path, { recursive: true, force: true });
          swept.push(path);
        } catch {
          // left for the next command
        } finally {
          release();
        }
      }
    } finally {
      creates?.();
    }
    // Root file systems of starts cut short.
    const mounted = new Set(
      mountsUnder(this.root, mountinfo)
        .map((point) => point.slice(this.root.length + 1).split('/'))
        .filter((parts) => parts.length === 2 && parts[1] === 'merged' && ID.test(parts[0] as string))
        .map((parts) => parts[0] as string),
    );
    for (const id of mounted) {
      const status = this.read(id)?.state.status;
      if (status === undefined || status === 'running') continue;
      // Opened without O_CREAT: a lock file made here could stop an rm's rmdir of the directory.
      const release = claimIfAbandoned(join(this.dir(id), '.lock'));
      if (release === undefined) continue;
      try {
        if (this.read(id)?.state.status === 'running') continue;
        swept.push(...detachMountsUnder(join(this.dir(id), 'merged'), mountinfo));
      } catch {
        // left for rm, which unmounts too
      } finally {
        release();
      }
    }
    return swept;
  }

  dir(id: string): string {
    return join(this.root, id);
  }

  runtimeDir(id: string): string {
    return join(this.runtimeRoot, id);
  }

  /** Serializes create/remove (names are unique) across processes. */
  lockAll(): Promise<() => void> {
    return acquireLock(join(this.root, '.lock'));
  }

  /** Serializes start/stop/cleanup/remove of one container. */
  lock(id: string): Promise<() => void> {
    return acquireLock(join(this.dir(id), '.lock'));
  }

  /**
   * lock(id), or undefined when the container is gone: removed meanwhile
   * (rm, or the cleanup of a --rm container), its directory and lock file with it.
   */
  async lockIfExists(id: string): Promise<(() => void) | undefined> {
    if (this.read(id) === undefined) return undefined;
    try {
      return await this.lock(id);
    } catch (error) {
      if (isMissing(error) && this.read(id) === undefined) return undefined;
      throw error;
    }
  }

  ids(): string[] {
    return readdirSync(this.root).filter((name) => ID.test(name) && existsSync(join(this.root, name, 'config.json')));
  }

  /** Creates the container's directories and config; names must be unique. Call under lockAll(). */
  create(config: Omit<ContainerConfig, 'id' | 'name' | 'created'> & { name: string | undefined }): Container {
    const taken = new Set(this.list().map((c) => c.config.name));
    let name = config.name;
    if (name !== undefined) {
      if (!NAME.test(name)) {
        throw new HutchError(`invalid container name ${JSON.stringify(name)}`, {
          hint: 'names are letters, digits, and _ . - (not first)',
        });
      }
      if (taken.has(name)) {
        throw new HutchError(`the container name "${name}" is already in use`, {
          hint: `remove it (hutch rm ${name}) or choose another name with --name`,
        });
      }
    } else {
      do {
        const a = ADJECTIVES[(randomBytes(1)[0] as number) % ADJECTIVES.length];
        const n = NAMES[(randomBytes(1)[0] as number) % NAMES.length];
        name = `${a}_${n}${taken.size > 200 ? `_${randomBytes(2).toString('hex')}` : ''}`;
      } while (taken.has(name));
    }
    const id = randomBytes(32).toString('hex');
    const dir = this.dir(id);
    for (const sub of ['upper', 'work', 'merged', 'userdata'])
      mkdirSync(join(dir, sub), { recursive: true, mode: 0o755 });
    const full: ContainerConfig = { ...config, id, name, created: new Date().toISOString() };
    const state = createdState();
    writeJson(join(dir, 'state.json'), state);
    // config.json last: a directory without it is an unfinished create, not a container.
    writeJson(join(dir, 'config.json'), full);
    return { config: full, state, dir, runtimeDir: this.runtimeDir(id) };
  }

  /** Every container, states reconciled with the processes. */
  list(): Container[] {
    const all: Container[] = [];
    for (const id of this.ids()) {
      const container = this.read(id);
      if (container !== undefined) all.push(container);
    }
    return all;
  }

  read(id: string): Container | undefined {
    try {
      const dir = this.dir(id);
      const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as ContainerConfig;
      const state = JSON.parse(readFileSync(join(dir, 'state.json'), 'utf8')) as ContainerState;
      const container = { config, state, dir, runtimeDir: this.runtimeDir(id) };
      container.state = reconcile(container);
      return container;
    } catch (error) {
      if (isMissing(error)) return undefined; // removed while we looked
      throw error;
    }
  }

  /** By full id, unique id prefix, or name; HutchError `no container with name or ID "x" found` (podman's words). */
  find(nameOrId: string): Container {
    const all = this.list();
    const exact = all.find((c) => c.config.id === nameOrId || c.config.name === nameOrId);
    if (exact !== undefined) return exact;
    const prefixed = /^[a-f0-9]{3,63}$/.test(nameOrId) ? all.filter((c) => c.config.id.startsWith(nameOrId)) : [];
    if (prefixed.length === 1) return prefixed[0] as Container;
    if (prefixed.length > 1) throw new HutchError(`more than one container matches the id prefix ${nameOrId}`);
    throw new NoSuchContainerError(nameOrId);
  }

  writeState(id: string, state: ContainerState): void {
    writeJson(join(this.dir(id), 'state.json'), state);
  }

  /**
   * Gives the container a new name (podman rename): names are unique, so
   * under lockAll() like create; config.json is rewritten atomically.
   * Containers that joined it by its old name (--network container:NAME) keep
   * the name they were given, as podman keeps ids.
   */
  async rename(nameOrId: string, newName: string): Promise<Container> {
    if (!NAME.test(newName)) {
      throw new HutchError('names must match [a-zA-Z0-9][a-zA-Z0-9_.-]*: invalid argument', {
        hint: 'names are letters, digits, and _ . - (not first)',
      });
    }
    const release = await this.lockAll();
    try {
      const container = this.find(nameOrId);
      const { id } = container.config;
      if (container.config.name === newName) return container;
      if (this.list().some((c) => c.config.name === newName)) {
        throw new HutchError(
          `renaming container ${id}: name ${newName} already in use, cannot rename container ${id}: container already exists`,
          { hint: `remove that container (hutch rm ${newName}) or choose another name` },
        );
      }
      const path = join(this.dir(id), 'config.json');
      const config = JSON.parse(readFileSync(path, 'utf8')) as ContainerConfig;
      writeJson(path, { ...config, name: newName });
      return { ...container, config: { ...config, name: newName } };
    } finally {
      release();
    }
  }

  /** Replaces the container's resource limits in config.json (`hutch update`: kept for the next start). Call under lock(id). */
  writeResources(id: string, resources: Limits): void {
    const path = join(this.dir(id), 'config.json');
    const config = JSON.parse(readFileSync(path, 'utf8')) as ContainerConfig;
    writeJson(path, { ...config, options: { ...config.options, resources } });
  }

  /**
   * Removes the container's directories (files owned by subordinate ids: call
   * inside the session). The directory is renamed to `.removed-*` first,
   * flocked: a removal cut short leaves it there for sweepLeftovers.
   */
  remove(id: string): void {
    // config.json first: from then on it is not a container, whatever is left.
    rmSync(join(this.dir(id), 'config.json'), { force: true });
    const doomed = moveIntoTemp(this.dir(id), this.root, REMOVED);
    if (doomed !== undefined) {
      try {
        rmSync(doomed.path, { recursive: true, force: true });
      } finally {
        doomed.release();
      }
    }
    rmSync(this.runtimeDir(id), { recursive: true, force: true });
  }
}

// Atomic, not durable: state.json is rewritten on every start and stop and
// reconciled with /proc and the monitor's exit file on every read.
function writeJson(path: string, value: unknown): void {
  writeFileAtomic(path, JSON.stringify(value, null, 2), { durable: false });
}

/** Field 22 of /proc/PID/stat: when the process started, in clock ticks; undefined when it is gone. */
export { processStartTime };

/** Whether the monitor of this container's current run is still there (its argv names the container). */
export function monitorAlive(container: Container): boolean {
  const pid = container.state.monitorPid;
  if (pid <= 0) return false;
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').includes(container.config.id);
  } catch {
    return false;
  }
}

/**
 * The state as the processes tell it: a running container whose process is
 * gone has exited, with the status its monitor recorded. Between the two (the
 * monitor still draining its output) it is still running.
 */
function reconcile(container: Container): ContainerState {
  const { state } = container;
  if (state.status !== 'running') return state;
  if (state.pid > 0 && processStartTime(state.pid) === state.pidStartTime) return state;
  const exit = readExitFile(container.runtimeDir);
  if (exit === undefined && monitorAlive(container)) return state;
  return {
    ...state,
    status: 'exited',
    exitCode: exit?.exitCode ?? (exit?.signal != null ? 128 + exit.signal : undefined),
    signal: exit?.signal ?? undefined,
    finishedAt: exit?.finishedAt ?? state.finishedAt,
    error: exit === undefined ? 'the container exited while nothing watched it (its monitor was killed)' : state.error,
  };
}

/** The state of a container that was created and never started. */
export function createdState(): ContainerState {
  return {
    status: 'created',
    pid: 0,
    pidStartTime: 0,
    monitorPid: 0,
    startedAt: undefined,
    finishedAt: undefined,
    exitCode: undefined,
    signal: undefined,
    oomKilled: false,
    error: undefined,
    restartCount: 0,
  };
}
