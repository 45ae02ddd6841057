/**
 * A short-lived container that is not in the container store: a build step's
 * RUN. Same isolation as `hutch run` (namespaces, pivot_root, default
 * capabilities and seccomp filter, masked paths), on a rootfs layout the
 * caller owns (the build's layers as lowers, the step's own upper), attached
 * until it exits, then unmounted. Its network is attached as `hutch run`'s
 * (slirp4netns, pasta, none, host) while its process waits before its first
 * instruction, and detached when it is gone.
 */
import {
  addProcess,
  createContainerCgroup,
  hasLimits,
  removeContainerCgroup,
  type CgroupState,
  type Limits,
} from '../cgroups/index.js';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { AttachClient, startMonitor } from '../monitor.js';
import {
  attachWaitingContainer,
  containerNetworkContext,
  detachNetwork,
  etcContents,
  namespaceFor,
  type NetworkRequest,
  type NetworkState,
} from '../network/index.js';
import type { RootfsDriver, RootfsLayout } from '../rootfs/index.js';
import { containerCapabilities } from '../security/capabilities.js';
import { seccompFor } from '../security/seccomp/default.js';
import { containerPlan, setgroupsAllowed, writeEtcFilesIn } from './lifecycle.js';
import { defaultDevices, defaultMaskedPaths, defaultReadonlyPaths } from './mounts.js';
import { ensureInRoot } from './paths.js';
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
  const dir = mkdtempSync(join(options.runtimeRoot, `${options.id.slice(0, 12)}-`));
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
  await driver.mount(layout, { rootless: options.rootless });
  try {
    if (options.limits !== undefined && hasLimits(options.limits)) {
      cgroup = await createContainerCgroup(options.id, options.limits);
    }
    const capabilities = containerCapabilities({ uid: options.uid, capAdd: [], capDrop: [], privileged: false });
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
        noNewPrivileges: false,
        capabilities,
        seccomp: seccompFor({ profile: 'default', capabilities }),
        rlimits: options.rlimits ?? [],
        umask: 0o022,
      },
    };
    ensureInRoot(layout.target, spec.process.cwd, 'directory', { what: 'the working directory' });
    const { plan, cloneFlags } = containerPlan(spec, options.rootless ? setgroupsAllowed() : true);
    const monitor = await startMonitor({
      id: options.id,
      dir,
      log: join(dir, 'log'),
      plan,
      cloneFlags,
      terminal: false,
      stdin: false,
      detach: false,
    });
    // The command waits for go(): in its cgroup before its first instruction.
    if (cgroup !== undefined) addProcess(cgroup, monitor.containerPid);
    // Up before the command's first instruction; on failure its process is killed.
    network = await attachWaitingContainer(options.network, netCtx, monitor.containerPid);
    const client = await AttachClient.connect(dir);
    client.stdout.pipe(options.stdout, { end: false });
    client.stderr.pipe(options.stderr, { end: false });
    // As pid 1 of its pid namespace the command ignores signals it has no handler for: SIGKILL it.
    const kill = () => {
      try {
        process.kill(monitor.containerPid, 'SIGKILL');
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
    if (network !== undefined) await detachNetwork(network).catch(() => undefined);
    if (cgroup !== undefined) await removeContainerCgroup(cgroup).catch(() => undefined);
    await driver.unmount(layout.target);
    rmSync(dir, { recursive: true, force: true });
  }
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
