/**
 * Starting, stopping and removing containers. A start mounts the rootfs in
 * the session's mount namespace (so cp, export and commit reach it), writes
 * the /etc files, builds the plan, and hands it to a hutch-monitor that
 * clones the container and outlives this process. When the container exits
 * the monitor runs `hutch container cleanup ID`, which records the exit,
 * unmounts and, with --rm, removes; an attached client does the same first.
 */
import { closeSync, copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError, SyscallError, withContext } from '../../errors.js';
import { native } from '../../native.js';
import { resolvePaths, type Paths } from '../../host/dirs.js';
import type { ImageStore } from '../../image/store/store.js';
import {
  addProcess,
  createContainerCgroup,
  freeze,
  isFrozen,
  killAll,
  releaseContainerCgroup,
  type CgroupState,
} from '../cgroups/index.js';
import { currentIdentity, type Identity } from '../../host/identity.js';
import { formatIdMap } from '../../host/idmap.js';
import { AttachClient, addContainerStdio, closeMonitorFds, startMonitor, type StartedMonitor } from '../monitor.js';
import {
  attachWaitingContainer,
  containerNetworkContext,
  detachNetwork,
  etcContents,
  namespaceFor,
  storedRequest,
} from '../network/index.js';
import { Clone, Plan } from '../../host/plan.js';
import { rootfsDriver } from '../rootfs/probe.js';
import { credentialSteps } from '../security/process-privileges.js';
import { removeVolume } from '../volumes.js';
import { monitorLogOptions, refuseTerminalPassthrough } from './log-config.js';
import { prepareRootfs } from './mount-prepare.js';
import { mountSteps } from './mount-steps.js';
import { ensureInRoot } from '../../fs/in-root.js';
import { startingHealth } from './health-log.js';
import { clearStoppedByUser, markStoppedByUser, policyRestarts } from './restart-state.js';
import { buildSpec, commandNotStarted } from './spec-builder.js';
import { stageCopyUps, type StagedCopyUps } from './tmpfs-copy-up.js';
import type { ContainerSpec } from './spec.js';
import { monitorAlive, processStartTime, type Container, type ContainerState, type ContainerStore } from './store.js';
import { localtimeMount } from './timezone.js';

export interface Runtime {
  identity: Identity;
  paths: Paths;
  images: ImageStore;
  containers: ContainerStore;
}

export interface Started {
  monitor: StartedMonitor;
  /** Connected before the container was let go, so nothing of its output is missed. */
  client: AttachClient | undefined;
}

const SIGNALS: Record<string, number> = {
  SIGHUP: 1,
  SIGINT: 2,
  SIGQUIT: 3,
  SIGILL: 4,
  SIGTRAP: 5,
  SIGABRT: 6,
  SIGBUS: 7,
  SIGFPE: 8,
  SIGKILL: 9,
  SIGUSR1: 10,
  SIGSEGV: 11,
  SIGUSR2: 12,
  SIGPIPE: 13,
  SIGALRM: 14,
  SIGTERM: 15,
  SIGSTKFLT: 16,
  SIGCHLD: 17,
  SIGCONT: 18,
  SIGSTOP: 19,
  SIGTSTP: 20,
  SIGTTIN: 21,
  SIGTTOU: 22,
  SIGURG: 23,
  SIGXCPU: 24,
  SIGXFSZ: 25,
  SIGVTALRM: 26,
  SIGPROF: 27,
  SIGWINCH: 28,
  SIGIO: 29,
  SIGPWR: 30,
  SIGSYS: 31,
};

/** Other names docker's signal table knows for the same numbers. */
const SIGNAL_ALIASES: Record<string, number> = { SIGCLD: 17, SIGIOT: 6, SIGPOLL: 29 };

/** A signal's number by its name without SIG (TERM, RTMIN+3, RTMAX-1), as docker's signal map has them. */
function signalByName(name: string): number | undefined {
  const full = `SIG${name}`;
  const known = SIGNALS[full] ?? SIGNAL_ALIASES[full];
  if (known !== undefined) return known;
  const rt = /^RT(MIN|MAX)(?:([+-])(\d+))?$/.exec(name);
  if (rt === null) return undefined;
  const offset = rt[3] === undefined ? 0 : Number(rt[3]);
  if (rt[1] === 'MIN' && rt[2] !== '-') return 34 + offset;
  if (rt[1] === 'MAX' && rt[2] !== '+') return 64 - offset;
  return undefined;
}

/**
 * A signal by name (TERM, SIGTERM, sigterm, RTMIN+2) or number, with a
 * leading dash or not (-HUP, -1), as `kill -s`, --stop-signal and STOPSIGNAL
 * take it; podman's errors (podman's util.ParseSignal over docker's).
 */
export function parseSignal(text: string): number {
  const raw = text.startsWith('-') ? text.slice(1) : text;
  let number: number | undefined;
  if (/^[+-]?\d+$/.test(raw)) {
    number = Number(raw);
    if (number === 0) number = undefined;
  } else {
    const upper = raw.toUpperCase();
    number = signalByName(upper.startsWith('SIG') ? upper.slice(3) : upper);
  }
  if (number === undefined) {
    throw new HutchError(`invalid signal: ${raw}`, { hint: 'use a name like TERM or KILL, or a number' });
  }
  if (number < 1 || number > 64) throw new HutchError('valid signals are 1 through 64');
  return number;
}

export async function openRuntime(env: NodeJS.ProcessEnv = process.env): Promise<Runtime> {
  const { enterSession } = await import('../../host/userns-session.js');
  const identity = currentIdentity(env);
  await enterSession(identity, env);
  const paths = resolvePaths(env, identity.uid);
  const { ImageStore } = await import('../../image/store/store.js');
  const { ContainerStore } = await import('./store.js');
  return {
    identity,
    paths,
    images: ImageStore.open(paths.storage),
    containers: new ContainerStore(paths.storage, paths.runtime),
  };
}

/**
 * /etc/hosts, /etc/hostname and /etc/resolv.conf for a container, written in
 * userdata (bind-mounted over the image's). network: the texts of hosts and
 * resolv.conf (src/run/network etcContents); without it, localhost entries
 * and a copy of the host's resolv.conf.
 */
export function writeEtcFilesIn(
  userdata: string,
  hostname: string,
  network?: { hosts: string; resolvConf: string },
): ContainerSpec['etcFiles'] {
  const hosts = join(userdata, 'hosts');
  const hostnameFile = join(userdata, 'hostname');
  const resolvConf = join(userdata, 'resolv.conf');
  writeFileSync(
    hosts,
    network?.hosts ??
      `127.0.0.1\tlocalhost localhost.localdomain\n::1\tlocalhost localhost.localdomain ip6-localhost ip6-loopback\n127.0.1.1\t${hostname}\n`,
  );
  writeFileSync(hostnameFile, `${hostname}\n`);
  if (network !== undefined) writeFileSync(resolvConf, network.resolvConf);
  else if (existsSync('/etc/resolv.conf')) copyFileSync('/etc/resolv.conf', resolvConf);
  else writeFileSync(resolvConf, '');
  return { hosts, hostname: hostnameFile, resolvConf };
}

/**
 * The container's child: mounts, pivot_root, hostname, cwd, stdio, credentials, exec.
 * preserveFds: the monitor's fds handed on to the container's 3… (--preserve-fds).
 */
export function containerPlan(
  spec: ContainerSpec,
  setgroupsAllowed: boolean,
  options: { preserveFds?: number } = {},
): { plan: Plan; cloneFlags: number } {
  // The cgroup namespace is unshared once the parent has put the child in its cgroup (runc's order), so
  // that the namespace's root, and the cgroup2 mounted at /sys/fs/cgroup, is the container's own cgroup.
  const plan = new Plan().waitParent();
  closeMonitorFds(plan, { terminal: spec.process.terminal, preserveFds: options.preserveFds });
  plan.unshare(Clone.NEWCGROUP);
  if (spec.network.mode === 'new' && spec.network.loopbackUp === true) plan.linkUp('lo');
  // --network container:NAME: entered before the mounts (the path is in the host's /proc, sysfs is the target's).
  if (spec.network.mode === 'join') plan.setns(spec.network.path, Clone.NEWNET);
  const prepared = prepareRootfs(spec, { cgroupNamespace: true, privateIpc: true });
  mountSteps(plan, spec, prepared);
  plan.sethostname(spec.hostname);
  plan.chdir(spec.process.cwd).verifyCwd(spec.process.cwd);
  plan.umask(spec.process.umask);
  for (const limit of spec.process.rlimits) plan.setrlimit(limit.resource, limit.soft, limit.hard);
  addContainerStdio(plan, { terminal: spec.process.terminal, preserveFds: options.preserveFds });
  credentialSteps(plan, spec.process, { setgroupsAllowed });
  const path = spec.process.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? null;
  if (spec.init !== undefined) {
    plan.exec('/run/hutch-init', ['hutch-init', '--', ...spec.process.args], spec.process.env);
  } else {
    plan.exec(spec.process.args[0] as string, spec.process.args, spec.process.env, path);
  }
  let cloneFlags = Clone.NEWNS | Clone.NEWPID | Clone.NEWUTS | Clone.NEWIPC;
  if (spec.network.mode === 'new') cloneFlags |= Clone.NEWNET;
  if (spec.userNamespace !== undefined) cloneFlags |= Clone.NEWUSER;
  return { plan, cloneFlags };
}

/** The unpacked layer directories of the container's image, first layer first. */
export function imageLowers(runtime: Runtime, container: Container): string[] {
  const image = runtime.images.resolveImage(container.config.image.id);
  return image.config.rootfs.diff_ids.map((diffId) => {
    if (!runtime.images.layers.has(diffId)) {
      throw new HutchError(
        `layer ${diffId} of image ${container.config.image.name ?? container.config.image.id} is not unpacked`,
        {
          hint: 'hutch system check --repair unpacks it again from its blob',
        },
      );
    }
    return runtime.images.layers.path(diffId);
  });
}

/**
 * Waits until the monitor of the container's last run is gone (it unlinks its
 * attach socket and writes its exit file on the way out, in the runtime
 * directory the next start reuses). Its argv names the container (--id ID, or
 * `container cleanup ID` once it exec'd that): a reused pid does not.
 */
export async function waitForMonitor(container: Container, timeoutMs = 10_000): Promise<void> {
  // The monitor's exit command restarting the container (restart-policy.ts) is that monitor, exec'd.
  if (container.state.monitorPid === process.pid) return;
  const deadline = Date.now() + timeoutMs;
  while (monitorAlive(container) && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 20));
}

/** A start of the restart policy that a stop, kill or start made meanwhile has called off. */
export class RestartCancelled extends Error {
  constructor() {
    super('the restart policy no longer restarts the container');
    this.name = 'RestartCancelled';
  }
}

export interface StartOptions {
  attach: boolean;
  /** The terminal size to give a -t container before its command runs (attached runs). */
  terminalSize?: { rows: number; cols: number } | undefined;
  /** The attached caller runs cleanupContainer itself after the exit (AttachClient.takeCleanup). */
  takeCleanup?: boolean;
  /** --preserve-fds: our fds 3… become the container's 3… (run only: they are the caller's). */
  preserveFds?: number;
  /** A start of the restart policy: the restart count goes up (any other start sets it to 0). */
  byPolicy?: boolean;
}

/**
 * Starts a created or exited container. With attach, connects to it before
 * letting it go. Throws (container left exited, nothing mounted) when the
 * command cannot be started; its exit status then is 126 or 127.
 */
export async function startContainer(runtime: Runtime, container: Container, options: StartOptions): Promise<Started> {
  const { containers, identity, paths } = runtime;
  const id = container.config.id;
  const release = await containers.lock(id);
  const merged = join(container.dir, 'merged');
  const driver = rootfsDriver(container.config.rootfsDriver);
  let mounted = false;
  let cgroup: CgroupState | undefined;
  let copyUps: StagedCopyUps | undefined;
  try {
    const current = containers.read(id);
    if (current === undefined) throw new HutchError(`container ${container.config.name} was removed`);
    if (current.state.status === 'running') {
      throw new HutchError(`container ${container.config.name} is already running`);
    }
    // Checked again under the lock: a stop, kill or start since the policy's first look wins.
    if (options.byPolicy === true && !policyRestarts(current)) throw new RestartCancelled();
    await waitForMonitor(current);
    cgroup = await createContainerCgroup(id, current.config.options.resources ?? {});
    await driver.mount(
      {
        lowers: imageLowers(runtime, current),
        upper: join(current.dir, 'upper'),
        work: join(current.dir, 'work'),
        target: merged,
      },
      { rootless: !identity.root, volatile: current.config.options.autoRemove === true },
    );
    mounted = true;
    const hostname = current.config.options.hostname ?? id.slice(0, 12);
    const request = storedRequest(current.config.options);
    const userdata = join(current.dir, 'userdata');
    const netCtx = containerNetworkContext(
      { id, name: current.config.name, hostname, runtimeDir: current.runtimeDir, hostsFile: join(userdata, 'hosts') },
      paths,
      containers,
    );
    const { timezone, healthcheck, timeout } = current.config.options;
    copyUps = stageCopyUps(current.config.options.mounts, merged, current.runtimeDir);
    const spec = buildSpec({
      container: current,
      identity,
      rootfs: merged,
      mounts: [...copyUps.mounts, ...(timezone === undefined ? [] : [localtimeMount(timezone, userdata)])],
      etcFiles: writeEtcFilesIn(userdata, hostname, etcContents(request, netCtx)),
      initBinary: paths.launcher,
      network: namespaceFor(request, netCtx),
    });
    ensureInRoot(merged, spec.process.cwd, 'directory', { what: 'the working directory' });
    const { plan, cloneFlags } = containerPlan(
      spec,
      spec.userNamespace !== undefined || identity.root || setgroupsAllowed(),
      { preserveFds: options.preserveFds },
    );
    mkdirSync(current.runtimeDir, { recursive: true, mode: 0o700 });
    clearStoppedByUser(current);
    const log = monitorLogOptions(current.config.options.log, current.dir);
    if (log.passthrough) refuseTerminalPassthrough();
    const monitor = await startMonitor({
      id,
      dir: current.runtimeDir,
      ...log,
      plan,
      cloneFlags,
      terminal: spec.process.terminal,
      stdin: current.config.options.interactive && !log.passthrough,
      detach: true,
      exitCommand: [paths.launcher, 'container', 'cleanup', id],
      ...(timeout === undefined ? {} : { timeoutSeconds: timeout }),
      ...(options.preserveFds === undefined ? {} : { preserveFds: options.preserveFds }),
      // The monitor runs the healthcheck, as podman's systemd timer does: `healthcheck run` every interval.
      ...(healthcheck !== undefined && healthcheck.intervalMs > 0
        ? {
            periodic: {
              everyMs: Math.max(1, Math.round(healthcheck.intervalMs)),
              command: [paths.launcher, 'healthcheck', 'run', id],
            },
          }
        : {}),
    });
    // Limits hold from the container's first instruction: it waits for go() until it is in its cgroup.
    if (cgroup !== undefined) addProcess(cgroup, monitor.containerPid);
    if (spec.userNamespace !== undefined) {
      // Root of the session may write any map within the session's own ranges.
      writeFileSync(`/proc/${monitor.containerPid}/uid_map`, formatIdMap(spec.userNamespace.uidMap));
      writeFileSync(`/proc/${monitor.containerPid}/gid_map`, formatIdMap(spec.userNamespace.gidMap));
    }
    // Up before the container's first instruction; on failure its process is killed.
    const network = await attachWaitingContainer(request, netCtx, monitor.containerPid);
    const state: ContainerState = {
      ...current.state,
      status: 'running',
      pid: monitor.containerPid,
      pidStartTime: processStartTime(monitor.containerPid) ?? 0,
      monitorPid: monitor.monitorPid,
      startedAt: new Date().toISOString(),
      finishedAt: undefined,
      exitCode: undefined,
      signal: undefined,
      error: undefined,
      network,
      oomKilled: false,
      cgroup,
      restartCount: options.byPolicy === true ? current.state.restartCount + 1 : 0,
      ...(healthcheck === undefined ? {} : { health: startingHealth(current.state.health) }),
      stopping: undefined,
    };
    containers.writeState(id, state);
    const client = options.attach ? await AttachClient.connect(current.runtimeDir) : undefined;
    if (client !== undefined && spec.process.terminal && options.terminalSize !== undefined) {
      client.resize(options.terminalSize.rows, options.terminalSize.cols);
    }
    if (client !== undefined && options.takeCleanup === true) client.takeCleanup();
    monitor.sync.go();
    try {
      await monitor.sync.done();
    } catch (error) {
      client?.close();
      throw startFailure(error, spec);
    }
    // The child has bound the staged tmpfs mounts: the session's own are not needed any more.
    copyUps.release();
    return { monitor, client };
  } catch (error) {
    copyUps?.release();
    const failed = containers.read(id);
    if (failed !== undefined && failed.state.status !== 'running') {
      // Never started: nothing of it runs, so nothing else will unmount it or remove its cgroup.
      if (mounted) await driver.unmount(merged).catch(() => undefined);
      if (cgroup !== undefined) await releaseContainerCgroup({ cgroup, oomKilled: false }).catch(() => undefined);
    } else if (failed !== undefined) {
      containers.writeState(id, { ...failed.state, status: 'exited', error: (error as Error).message });
    }
    throw error;
  } finally {
    release();
  }
}

/** Whether this session lets processes change their supplementary groups (a single-id map denies it). */
export function setgroupsAllowed(): boolean {
  try {
    return readFileSync('/proc/self/setgroups', 'utf8').trim() === 'allow';
  } catch {
    return false;
  }
}

/** The error of a container whose command could not start, with podman's exit statuses. */
export function startFailure(error: unknown, spec: ContainerSpec): unknown {
  return commandNotStarted(error, spec.process.args[0] as string) ?? withContext('start', 'start the container', error);
}

/**
 * After the container exited: record its exit, unmount its rootfs and, with
 * --rm, remove it. Idempotent, so the monitor's exit command and an attached
 * client may both run it.
 */
export async function cleanupContainer(runtime: Runtime, id: string): Promise<void> {
  const { containers } = runtime;
  const release = await containers.lockIfExists(id);
  if (release === undefined) return;
  try {
    const container = containers.read(id);
    if (container === undefined || container.state.status === 'running') return;
    container.state = await withoutNetwork(container.state);
    containers.writeState(id, await releaseContainerCgroup(container.state));
    const driver = rootfsDriver(container.config.rootfsDriver);
    await driver.unmount(join(container.dir, 'merged'));
    if (container.config.options.autoRemove) await removeLocked(runtime, container, { volumes: true });
  } finally {
    release();
  }
}

/** Detaches the network of a container that no longer runs (its helper, ports, place on a network). */
async function withoutNetwork(state: ContainerState): Promise<ContainerState> {
  if (state.network === undefined) return state;
  await detachNetwork(state.network);
  return { ...state, network: undefined };
}

async function removeLocked(runtime: Runtime, container: Container, options: { volumes: boolean }): Promise<void> {
  await withoutNetwork(container.state);
  runtime.containers.remove(container.config.id);
  if (!options.volumes) return;
  for (const volume of container.config.options.createdVolumes) {
    if (volume.anonymous)
      await removeVolume(runtime.paths.storage, volume.name, { force: true }).catch(() => undefined);
  }
}

/** Resolves once the container's process is gone (polled through /proc; it is not our child). */
export async function waitForExit(runtime: Runtime, id: string, timeoutMs = Infinity): Promise<Container | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const container = runtime.containers.read(id);
    if (container === undefined || container.state.status !== 'running') return container;
    if (Date.now() >= deadline) return container;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export function signalContainer(container: Container, signal: number): void {
  if (container.state.status !== 'running') {
    throw new HutchError(
      `can only kill running containers. ${container.config.id} is in state ${container.state.status}: container state improper`,
    );
  }
  // As podman's kill: whatever the signal, an exit after it is the user's doing, not one to restart after.
  markStoppedByUser(container);
  // SIGKILL through cgroup.kill takes every process of the container at once: none escapes by forking.
  if (signal === 9 && container.state.cgroup !== undefined) {
    killAll(container.state.cgroup, 9);
    return;
  }
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(container.state.pid);
  } catch (error) {
    if (error instanceof SyscallError && error.code === 'ESRCH') return;
    throw error;
  }
  try {
    // The pid may have been reused since the state was read: check the start time through the pidfd's process.
    if (processStartTime(container.state.pid) !== container.state.pidStartTime) return;
    native.pidfdSendSignal(pidfd, signal);
  } finally {
    closeSync(pidfd);
  }
}

/** The signal's name (SIGTERM) for a number, as podman's messages name it. */
export function signalName(signal: number): string {
  const name = Object.entries(SIGNALS).find(([, n]) => n === signal)?.[0];
  if (name !== undefined) return name;
  if (signal >= 34 && signal <= 64) return signal === 34 ? 'SIGRTMIN' : `SIGRTMIN+${signal - 34}`;
  return String(signal);
}

export interface StopOptions {
  /** Said when the stop signal did not stop the container in time and SIGKILL follows. */
  onWarning?: (message: string) => void;
}

/**
 * Marks the run as stopping (podman's "stopping" state: inspect and ps show
 * it) until it exits. Under the container's lock, and only for the run that
 * was signalled: the next start writes a state without it.
 */
async function markStopping(runtime: Runtime, container: Container): Promise<void> {
  const id = container.config.id;
  const release = await runtime.containers.lockIfExists(id);
  if (release === undefined) return;
  try {
    const current = runtime.containers.read(id);
    if (current?.state.status !== 'running' || current.state.pid !== container.state.pid) return;
    runtime.containers.writeState(id, { ...current.state, stopping: true });
  } finally {
    release();
  }
}

/**
 * STOPSIGNAL, then SIGKILL after timeoutSeconds (0: SIGKILL at once, as
 * podman's stop -t 0); then cleanup. Holds no lock while it waits, so other
 * commands (ps, logs, kill) go on meanwhile.
 */
export async function stopContainer(
  runtime: Runtime,
  container: Container,
  timeoutSeconds?: number,
  options: StopOptions = {},
): Promise<void> {
  // Also when it is not running: a restart the policy is about to make (restart-policy.ts) is off.
  markStoppedByUser(container);
  if (container.state.status === 'running') {
    const stopSignal = parseSignal(
      container.config.options.stopSignal ?? container.config.imageConfig.StopSignal ?? 'SIGTERM',
    );
    const timeout = timeoutSeconds ?? container.config.options.stopTimeout ?? 10;
    let after: Container | undefined = container;
    if (timeout > 0) {
      await markStopping(runtime, container);
      signalContainer(container, stopSignal);
      // A paused container gets its stop signal once thawed, as podman's stop does.
      const { cgroup } = container.state;
      if (cgroup !== undefined && isFrozen(cgroup)) await freeze(cgroup, false);
      after = await waitForExit(runtime, container.config.id, timeout * 1000);
      if (after?.state.status === 'running') {
        options.onWarning?.(
          `StopSignal ${signalName(stopSignal)} failed to stop container ${container.config.name} in ${timeout} seconds, resorting to SIGKILL`,
        );
      }
    }
    if (after?.state.status === 'running') {
      signalContainer(after, 9);
      // SIGKILL reaches a frozen cgroup's processes only once it is thawed.
      const { cgroup } = after.state;
      if (cgroup !== undefined && isFrozen(cgroup)) await freeze(cgroup, false);
      after = await waitForExit(runtime, container.config.id, 10_000);
      if (after?.state.status === 'running')
        throw new HutchError(`container ${container.config.name} did not die after SIGKILL`);
    }
  }
  await cleanupContainer(runtime, container.config.id);
}

/** rm: a running container needs force (then it is killed first). */
export async function removeContainer(
  runtime: Runtime,
  container: Container,
  options: { force: boolean; volumes: boolean },
): Promise<void> {
  if (container.state.status === 'running') {
    if (!options.force) {
      throw new HutchError(
        `cannot remove container ${container.config.id} as it is running - running or paused containers cannot be removed without force: container state improper`,
        // podman rm's status for a container in the wrong state.
        { hint: `stop it first (hutch stop ${container.config.name}) or use hutch rm -f`, exitCode: 2 },
      );
    }
    signalContainer(container, 9);
    await waitForExit(runtime, container.config.id, 10_000);
  }
  const release = await runtime.containers.lockIfExists(container.config.id);
  if (release === undefined) return;
  try {
    const current = runtime.containers.read(container.config.id);
    if (current === undefined) return;
    const driver = rootfsDriver(current.config.rootfsDriver);
    await driver.unmount(join(current.dir, 'merged'));
    await releaseContainerCgroup(current.state);
    await removeLocked(runtime, current, options);
  } finally {
    release();
  }
}
