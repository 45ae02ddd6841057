/**
 * `hutch exec`: a new process in a running container. A hutch-monitor of its
 * own joins every namespace of the container's process (`--join PID`: user
 * first, then ipc, uts, net, pid, mnt, cgroup), so the process it clones has
 * the container's root (setns into a mount namespace moves root and cwd to the
 * namespace's root, which pivot_root made the container's), sees the
 * container's processes and hostname, and is a child of the container's pid
 * namespace. Its plan is short: close the monitor's fds, chdir and check that
 * the directory is inside the container's root, umask, stdio, credentials
 * (user, capabilities, no_new_privs, seccomp) and execve.
 *
 * Each exec session has a directory `<container runtime dir>/exec/<id>/`
 * (monitor.pid, attach, exit), removed when an attached session
 * ends; a detached one's stays until a later exec or the container's removal
 * finds it finished.
 */
import { randomBytes } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ExitCode, HutchError, SyscallError, withContext } from '../../errors.js';
import { native } from '../../native.js';
import { addProcess, isPaused } from '../cgroups/index.js';
import { AttachClient, addContainerStdio, closeMonitorFds, startMonitor } from '../monitor.js';
import { Plan } from '../../host/plan.js';
import { containerCapabilities } from '../security/capabilities.js';
import { credentialSteps } from '../security/process-privileges.js';
import { seccompFor } from '../security/seccomp/default.js';
import { setgroupsAllowed, type Runtime } from './lifecycle.js';
import { relay, type Stdio } from './attach.js';
import { buildSpec, commandNotStarted } from './spec-builder.js';
import type { ProcessSpec } from './spec.js';
import { processStartTime, type Container } from './store.js';
import { ifExists } from '../../fs/missing.js';

export interface ExecFlags {
  container: string;
  command: string[];
  interactive: boolean;
  tty: boolean;
  detach: boolean;
  user: string | undefined;
  env: string[];
  envFile: string[];
  workdir: string | undefined;
  privileged: boolean;
}

/** podman's words (libpod's ErrCtrStateInvalid); hutch exits 125 where podman 4.3 exits 255. */
export function requireRunning(container: Container): void {
  if (container.state.status !== 'running') {
    throw new HutchError('can only create exec sessions on running containers: container state improper', {
      hint: `start it first (hutch start ${container.config.name})`,
    });
  }
  // Its process would join a frozen cgroup and hang there until the container is unpaused.
  if (isPaused(container.state)) {
    throw new HutchError(`container ${container.config.name} is paused: container state improper`, {
      hint: `unpause it first (hutch unpause ${container.config.name})`,
    });
  }
}

/** The process an exec runs: the container's spec with the exec's command, user, env, cwd and terminal. */
export function execProcess(
  runtime: Runtime,
  container: Container,
  flags: Pick<ExecFlags, 'command' | 'user' | 'workdir' | 'tty' | 'privileged'> & { extraEnv: string[] },
): ProcessSpec {
  const { options } = container.config;
  const view: Container = {
    ...container,
    config: {
      ...container.config,
      options: {
        ...options,
        command: flags.command,
        entrypoint: [],
        user: flags.user ?? options.user,
        env: [...options.env, ...flags.extraEnv],
        workdir: flags.workdir ?? options.workdir,
        tty: flags.tty,
        init: false,
        mounts: [],
      },
    },
  };
  const merged = join(container.dir, 'merged');
  const spec = buildSpec({
    container: view,
    identity: runtime.identity,
    rootfs: merged,
    mounts: [],
    etcFiles: { hosts: '', hostname: '', resolvConf: '' },
    initBinary: runtime.paths.launcher,
  });
  const proc = spec.process;
  if (flags.privileged && !options.privileged) {
    // podman's exec --privileged: every capability; the container's seccomp profile stays.
    const capabilities = containerCapabilities({
      uid: proc.uid,
      capAdd: options.capAdd,
      capDrop: options.capDrop,
      privileged: true,
    });
    return {
      ...proc,
      capabilities,
      seccomp: seccompFor({ profile: seccompProfileOf(options.securityOpt), capabilities }),
    };
  }
  return proc;
}

/** The seccomp profile a container runs with (--security-opt seccomp=…), as buildSpec reads it. */
export function seccompProfileOf(securityOpt: readonly string[]): string {
  let profile = 'default';
  for (const opt of securityOpt) if (opt.startsWith('seccomp=')) profile = opt.slice('seccomp='.length);
  return profile;
}

/** Removes the directories of exec sessions that have ended (their monitor wrote `exit`). */
function removeEndedSessions(container: Container): void {
  const root = join(container.runtimeDir, 'exec');
  // No exec session ever started: nothing to remove. Any other failure to read it surfaces.
  const names = ifExists(() => readdirSync(root));
  if (names === undefined) return;
  for (const name of names) {
    if (existsSync(join(root, name, 'exit'))) rmSync(join(root, name), { recursive: true, force: true });
  }
}

/**
 * How an exec session went: detached (its id, as podman prints it), or ended
 * with a status (timedOut: killed after killAfterMs).
 */
export type ExecOutcome = { detached: string } | { status: number; timedOut?: boolean };

/**
 * Runs a process in the container; attached, it relays the process's I/O to
 * and from stdio until it exits. Detached, the session's id comes back.
 */
export async function execInContainer(
  runtime: Runtime,
  container: Container,
  stdio: Stdio,
  flags: Omit<ExecFlags, 'container' | 'env' | 'envFile'> & {
    extraEnv: string[];
    /** Attached: SIGKILL the process after this long (a healthcheck's timeout). */
    killAfterMs?: number;
  },
): Promise<ExecOutcome> {
  requireRunning(container);
  if (processStartTime(container.state.pid) !== container.state.pidStartTime) {
    throw new HutchError('can only create exec sessions on running containers: container state improper');
  }
  const proc = execProcess(runtime, container, flags);
  const plan = new Plan().waitParent();
  closeMonitorFds(plan, { terminal: proc.terminal });
  plan.chdir(proc.cwd).verifyCwd(proc.cwd);
  plan.umask(proc.umask);
  // The container's --ulimit values, as runc gives an exec'd process the container's rlimits.
  for (const limit of proc.rlimits) plan.setrlimit(limit.resource, limit.soft, limit.hard);
  addContainerStdio(plan, { terminal: proc.terminal });
  const ownUserns = container.config.options.userns === 'keep-id';
  credentialSteps(plan, proc, { setgroupsAllowed: ownUserns || runtime.identity.root || setgroupsAllowed() });
  const path = proc.env.find((e) => e.startsWith('PATH='))?.slice(5) ?? null;
  plan.exec(proc.args[0] as string, proc.args, proc.env, path);

  removeEndedSessions(container);
  const execId = randomBytes(32).toString('hex');
  const dir = join(container.runtimeDir, 'exec', execId);
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  let monitor;
  try {
    monitor = await startMonitor({
      id: `${container.config.id.slice(0, 12)}/exec`,
      dir,
      // Nothing reads an exec's output back: it goes to the client, or nowhere with -d (as podman's).
      log: undefined,
      plan,
      cloneFlags: 0,
      join: container.state.pid,
      terminal: proc.terminal,
      stdin: flags.interactive,
      detach: true,
    });
  } catch (error) {
    removeSession(dir);
    const now = runtime.containers.read(container.config.id);
    if (now === undefined || now.state.status !== 'running') {
      throw new HutchError('can only create exec sessions on running containers: container state improper', {
        cause: error,
      });
    }
    throw withContext('exec', `join container ${container.config.name}`, error);
  }
  // Counted against the container's limits, paused and killed with it: into its cgroup before it runs.
  const { cgroup } = container.state;
  if (cgroup !== undefined) {
    try {
      addProcess(cgroup, monitor.containerPid);
    } catch (error) {
      // Still held before its first step: it must not run outside the container's limits.
      process.kill(monitor.containerPid, 'SIGKILL');
      removeSession(dir);
      throw error;
    }
  }
  const client = flags.detach ? undefined : await AttachClient.connect(dir);
  monitor.sync.go();
  try {
    await monitor.sync.done();
  } catch (error) {
    client?.close();
    // The monitor still reaps the child and writes its exit file there: let it finish first.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([monitor.exited, new Promise((resolve) => (timer = setTimeout(resolve, 2000)))]);
    clearTimeout(timer);
    removeSession(dir);
    throw execFailure(error, proc);
  }
  if (client === undefined) return { detached: execId };
  const pid = monitor.containerPid;
  const start = processStartTime(pid);
  let timedOut = false;
  const timer =
    flags.killAfterMs === undefined
      ? undefined
      : setTimeout(() => {
          timedOut = true;
          signalProcess(pid, start, 9);
        }, flags.killAfterMs);
  try {
    const status = await relay(client, stdio, {
      tty: proc.terminal,
      interactive: flags.interactive,
      signal: (signal) => signalProcess(pid, start, signal),
    });
    return timedOut ? { status, timedOut } : { status };
  } finally {
    clearTimeout(timer);
    // The monitor wrote the exit file before the exit frame; it writes nothing there after.
    removeSession(dir);
  }
}

function removeSession(dir: string): void {
  try {
    rmSync(dir, { recursive: true, force: true, maxRetries: 3, retryDelay: 20 });
  } catch {
    // a later exec removes what is left (removeEndedSessions)
  }
}

/** podman's statuses for a process that could not be started: 127 not found, 126 cannot execute. */
function execFailure(error: unknown, proc: ProcessSpec): unknown {
  const notStarted = commandNotStarted(error, proc.args[0] as string);
  if (notStarted !== undefined) return notStarted;
  if (error instanceof SyscallError && error.syscall === 'chdir') {
    return new HutchError(`chdir to cwd (${JSON.stringify(proc.cwd)}) failed: ${error.message}`, {
      exitCode: error.code === 'ENOENT' || error.code === 'ENOTDIR' ? ExitCode.NotFound : ExitCode.CannotExecute,
      cause: error,
    });
  }
  return withContext('exec', 'start the exec session', error);
}

/** Sends signal to pid if it is still the process that started at startTime (clock ticks). */
function signalProcess(pid: number, startTime: number | undefined, signal: number): void {
  let pidfd: number;
  try {
    pidfd = native.pidfdOpen(pid);
  } catch {
    return; // gone
  }
  try {
    if (processStartTime(pid) !== startTime) return;
    native.pidfdSendSignal(pidfd, signal);
  } catch {
    // exited meanwhile
  } finally {
    closeSync(pidfd);
  }
}
