/**
 * A short-lived container that is not in the container store: a build step's
 * RUN. Same isolation as `hutch run` (namespaces, pivot_root, default
 * capabilities and seccomp filter, masked paths), on a rootfs layout the
 * caller owns (the build's layers as lowers, the step's own upper), attached
 * until it exits, then unmounted. Its network is attached as `hutch run`'s
 * (slirp4netns, pasta, none, host) while its process waits before its first
 * instruction, and detached when it is gone.
 *
 * It dies with the process that runs it: its monitor gets `--die-with-client`
 * (an fd whose other end only we hold) and kills it at that fd's EOF, so a
 * `hutch build` killed by SIGKILL leaves no RUN running. Its runtime directory
 * (`<runtime>/build/<id>-XXXXXX`) is flocked by us while it runs, with
 * owner.json naming its monitor, container and cgroup; what a dead build left
 * there, reapEphemeralLeftovers removes (the next build does).
 */
import {
  addProcess,
  createContainerCgroup,
  hasLimits,
  removeContainerCgroup,
  type CgroupState,
  type Limits,
} from '../cgroups/index.js';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { claimIfAbandoned, createTempDir } from '../../fs/lock.js';
import { AttachClient, startMonitor, type StartedMonitor } from '../monitor.js';
import {
  attachWaitingContainer,
  containerNetworkContext,
  detachNetwork,
  etcContents,
  namespaceFor,
  type NetworkRequest,
  type NetworkState,
} from '../network/index.js';
import { liveProcessStartTime } from '../../host/proc.js';
import type { RootfsDriver, RootfsLayout } from '../rootfs/index.js';
import { containerCapabilities } from '../security/capabilities.js';
import { seccompFor } from '../security/seccomp/default.js';
import type { SecurityOptions } from '../security/security-options.js';
import { containerPlan, setgroupsAllowed, writeEtcFilesIn } from './lifecycle.js';
import { defaultDevices, defaultMaskedPaths, defaultReadonlyPaths } from './mount-defaults.js';
import { ensureInRoot } from '../../fs/in-root.js';
import { commandNotStarted } from './spec-builder.js';
import type { ContainerSpec, MountSpec, Rlimit } from './spec.js';

export interface EphemeralOptions {
  /** Names the runtime and temp directories. */
  id: string;
  driver: RootfsDriver;
  layout: RootfsLayout;
  rootless: boolean;
  /** Where the monitor's directory and the /etc files go (created, removed after). */
  runtimeRoot: string;
  hostname: string;
  args: string[];
  env: string[];
  cwd: string;
  uid: number;
  gid: number;
  additionalGids: number[];
  mounts: MountSpec[];
  network: NetworkRequest;
  /** Resource limits: the command runs in a cgroup of its own that holds them from its first instruction. */
  limits?: Limits;
  /** setrlimit(2) in the command's process before it runs (--ulimit). */
  rlimits?: Rlimit[];
  /** Capabilities added to and dropped from the default set (--cap-add, --cap-drop). */
  capAdd?: string[];
  capDrop?: string[];
  /** --security-opt: the seccomp profile (the default one unless told) and no_new_privs (off unless told). */
  security?: SecurityOptions;
  /** hutch's storage and runtime directories (the network helpers keep state there). */
  paths: { storage: string; runtime: string };
  /** The container's stdout and stderr go here as they come. */
  stdout: Writable;
  stderr: Writable;
  /** Aborted (the build was interrupted): the command is killed, and its status returned as usual. */
  signal?: AbortSignal;
}

/** Runs the command to its end; returns its exit status (128+N for signal N). */
export async function runEphemeral(options: EphemeralOptions): Promise<number> {
  const owned = createTempDir(options.runtimeRoot, `${options.id.slice(0, 12)}-`);
  const dir = owned.path;
  mkdirSync(join(dir, 'userdata'));
  const { driver, layout } = options;
  const userdata = join(dir, 'userdata');
  const netCtx = containerNetworkContext(
    {
      id: options.id,
      name: options.hostname,
      hostname: options.hostname,
      runtimeDir: dir,
      hostsFile: join(userdata, 'hosts'),
    },
    options.paths,
  );
  let network: NetworkState | undefined;
  let cgroup: CgroupState | undefined;
  let monitor: StartedMonitor | undefined;
  await driver.mount(layout, { rootless: options.rootless });
  try {
    if (options.limits !== undefined && hasLimits(options.limits)) {
      cgroup = await createContainerCgroup(options.id, options.limits);
      writeOwner(dir, { cgroup });
    }
    const capabilities = containerCapabilities({
      uid: options.uid,
      capAdd: options.capAdd ?? [],
      capDrop: options.capDrop ?? [],
      privileged: false,
    });
    const spec: ContainerSpec = {
      id: options.id,
      rootfs: layout.target,
      readonlyRootfs: false,
      hostname: options.hostname,
      etcFiles: writeEtcFilesIn(userdata, options.hostname, etcContents(options.network, netCtx)),
      mounts: options.mounts,
      devices: [...defaultDevices],
      maskedPaths: [...defaultMaskedPaths],
      readonlyPaths: [...defaultReadonlyPaths],
      network: namespaceFor(options.network, netCtx),
      userNamespace: undefined,
      init: undefined,
      process: {
        args: options.args,
        env: options.env,
        cwd: options.cwd,
        uid: options.uid,
        gid: options.gid,
        additionalGids: options.additionalGids,
        terminal: false,
        // Build steps may run setuid programs (su, sudo), as buildah's do.
        noNewPrivileges: options.security?.noNewPrivileges ?? false,
        capabilities,
        seccomp: seccompFor({ profile: options.security?.seccomp ?? 'default', capabilities }),
        rlimits: options.rlimits ?? [],
        umask: 0o022,
      },
    };
    ensureInRoot(layout.target, spec.process.cwd, 'directory', { what: 'the working directory' });
    const { plan, cloneFlags } = containerPlan(spec, options.rootless ? setgroupsAllowed() : true);
    monitor = await startMonitor({
      id: options.id,
      dir,
      // The step's output goes to the build's client; a log of it would only fill the disk.
      log: undefined,
      plan,
      cloneFlags,
      terminal: false,
      stdin: false,
      detach: false,
      dieWithClient: true,
    });
    writeOwner(dir, {
      monitor: { pid: monitor.monitorPid, start: liveProcessStartTime(monitor.monitorPid) },
      container: { pid: monitor.containerPid, start: liveProcessStartTime(monitor.containerPid) },
      cgroup,
    });
    // The command waits for go(): in its cgroup before its first instruction.
    if (cgroup !== undefined) addProcess(cgroup, monitor.containerPid);
    // Up before the command's first instruction; on failure its process is killed.
    network = await attachWaitingContainer(options.network, netCtx, monitor.containerPid);
    const client = await AttachClient.connect(dir);
    client.stdout.pipe(options.stdout, { end: false });
    client.stderr.pipe(options.stderr, { end: false });
    // As pid 1 of its pid namespace the command ignores signals it has no handler for: SIGKILL it.
    const containerPid = monitor.containerPid;
    const kill = () => {
      try {
        process.kill(containerPid, 'SIGKILL');
      } catch {
        // gone already
      }
    };
    options.signal?.addEventListener('abort', kill, { once: true });
    if (options.signal?.aborted === true) kill();
    monitor.sync.go();
    try {
      await monitor.sync.done();
    } catch (error) {
      client.close();
      await monitorGone(monitor.exited);
      throw commandNotStarted(error, options.args[0] as string) ?? error;
    }
    const status = await client.exit;
    client.close();
    await monitorGone(monitor.exited);
    return status.exitCode ?? 128 + (status.signal ?? 0);
  } finally {
    // Lets the monitor's --die-with-client fd go: after a failure before the command ran, that kills it.
    monitor?.release();
    if (network !== undefined) await detachNetwork(network).catch(() => undefined);
    if (cgroup !== undefined) await removeContainerCgroup(cgroup).catch(() => undefined);
    await driver.unmount(layout.target);
    rmSync(dir, { recursive: true, force: true });
    owned.release();
  }
}

interface ProcessId {
  pid: number;
  /** Clock ticks after boot (/proc/PID/stat field 22), against pid reuse. */
  start: number | undefined;
}

/** DIR/owner.json: what reapEphemeralLeftovers needs to know once we are gone. */
interface Owner {
  monitor?: ProcessId;
  container?: ProcessId;
  cgroup: CgroupState | undefined;
}

function writeOwner(dir: string, owner: Owner): void {
  writeFileSync(join(dir, 'owner.json'), `${JSON.stringify(owner)}\n`);
}

function readOwner(dir: string): Partial<Owner> {
  try {
    return JSON.parse(readFileSync(join(dir, 'owner.json'), 'utf8')) as Partial<Owner>;
  } catch {
    // Not written yet (a build killed early) or torn: no owner is known.
    return {};
  }
}

/** Whether the process is still the one recorded (same start time), not a reuse of its pid. */
function alive(proc: ProcessId | undefined): boolean {
  if (proc === undefined || proc.start === undefined) return false;
  return liveProcessStartTime(proc.pid) === proc.start;
}

/** The monitor of dir runs (DIR/monitor.pid names a live hutch-monitor of dir): for a build killed before owner.json named it. */
function monitorRunsIn(dir: string): boolean {
  try {
    const pid = Number(readFileSync(join(dir, 'monitor.pid'), 'utf8').trim());
    const argv = readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0');
    return liveProcessStartTime(pid) !== undefined && argv.includes('--dir') && argv.includes(dir);
  } catch {
    // no pid file, or its process is gone
    return false;
  }
}

/**
 * Removes what dead builds' RUN containers left in runtimeRoot: one readdir,
 * one flock probe per entry. A directory nobody holds belonged to a build that
 * died; its container died with it (--die-with-client), or is killed here
 * should it still run. While its monitor is still finishing, the directory is
 * left for the next call; then its cgroup (if it had limits) and the directory
 * go. Never throws.
 */
export async function reapEphemeralLeftovers(runtimeRoot: string): Promise<string[]> {
  const removed: string[] = [];
  let names: string[];
  try {
    names = readdirSync(runtimeRoot);
  } catch {
    // Never throws (a reaper before a build): nothing readable, nothing to reap.
    return removed;
  }
  for (const name of names) {
    const dir = join(runtimeRoot, name);
    const release = claimIfAbandoned(dir);
    if (release === undefined) continue;
    try {
      const owner = readOwner(dir);
      if (owner.container !== undefined && alive(owner.container)) {
        try {
          process.kill(owner.container.pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      if (alive(owner.monitor) || alive(owner.container) || monitorRunsIn(dir)) continue;
      if (owner.cgroup !== undefined) await removeContainerCgroup(owner.cgroup).catch(() => undefined);
      rmSync(dir, { recursive: true, force: true });
      removed.push(dir);
    } catch {
      // left for the next build
    } finally {
      release();
    }
  }
  return removed;
}

/**
 * Waits for the monitor's exit. startMonitor unrefs the monitor (a detached
 * container outlives hutch), so with the attach socket closed nothing else may
 * hold node's event loop open: a timer does, until the exit event came.
 */
async function monitorGone(exited: Promise<unknown>): Promise<void> {
  const keepAlive = setInterval(() => undefined, 60_000);
  try {
    await exited;
  } finally {
    clearInterval(keepAlive);
  }
}
