/**
 * What `hutch container inspect` and `hutch inspect` show (src/verbs/inspect.ts):
 * containers as podman 4's `container inspect` shows them (the fields hutch
 * has), and the lookup of `inspect --type all|container|image|volume`: each
 * name as a container, then an image, then a volume, as podman does.
 */
import { existsSync, lstatSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { HutchError } from '../../errors.js';
import { hexOf } from '../../image/digest.js';
import { inspectJson } from '../../image/images.js';
import { ImageNotKnownError } from '../../image/store/resolve.js';
import { portMap, storedRequest } from '../network/index.js';
import { hostConfigResources, isPaused, wasOomKilled } from '../cgroups/index.js';
import { inspectUlimits } from '../rlimits.js';
import { normalizeCapabilityName } from '../security/capabilities.js';
import { inspectVolume, volumesDir } from '../volumes.js';
import { containerState } from './filters.js';
import { parseSignal, type Runtime } from './lifecycle.js';
import { inspectHealth } from './health-log.js';
import { inspectHealthcheck } from './healthcheck.js';
import { inspectLogConfig } from './log-config.js';
import { inspectRestartPolicy } from './restart-policy.js';
import { formatLogTimestamp } from './logs.js';
import type { BindMountSpec } from './mount-options.js';
import { DEFAULT_PATH, containerArgs, mergeEnv, readInRoot } from './spec-builder.js';
import type { Container } from './store.js';
import { resolveUser } from './user.js';
import { volumeUsers } from './users.js';
import { ifExists } from '../../fs/missing.js';

const ZERO_TIME = '0001-01-01T00:00:00Z';

export type InspectType = 'all' | 'container' | 'image' | 'volume';
const TYPES: InspectType[] = ['all', 'container', 'image', 'volume'];

export function parseInspectType(value: string): InspectType {
  if (!(TYPES as string[]).includes(value)) {
    throw new HutchError(`invalid type ${JSON.stringify(value)}: must be "image", "container", "volume", or "all"`);
  }
  return value as InspectType;
}

function time(value: string | undefined): string {
  return value === undefined ? ZERO_TIME : formatLogTimestamp(value);
}

/**
 * A file of the container's root file system as the container sees it, from
 * the mounted tree when it runs, else from its upper directory and its
 * image's layers, top first (a whiteout hides it); null when it has none.
 */
export function readContainerFile(runtime: Runtime, container: Container, path: string): string | null {
  const merged = join(container.dir, 'merged');
  if (container.state.status === 'running') return readInRoot(merged, path);
  let lowers: string[] = [];
  try {
    const image = runtime.images.resolveImage(container.config.image.id);
    lowers = image.config.rootfs.diff_ids.map((d) => runtime.images.layers.path(d)).reverse();
  } catch {
    // the image is gone: only the container's own changes are left
  }
  const dirs = container.config.rootfsDriver === 'copy' ? lowers : [join(container.dir, 'upper'), ...lowers];
  for (const dir of dirs) {
    const stat = lstatSync(join(dir, path), { throwIfNoEntry: false });
    if (stat === undefined) continue;
    if (stat.isCharacterDevice() && stat.rdev === 0) return null;
    return readInRoot(dir, path);
  }
  return null;
}

/** The environment the container's process gets (buildSpec's rules), HOME from its /etc/passwd. */
function containerEnv(runtime: Runtime, container: Container): string[] {
  const { options, imageConfig, id } = container.config;
  const env = mergeEnv(
    [`PATH=${DEFAULT_PATH}`],
    options.tty ? ['TERM=xterm'] : [],
    imageConfig.Env ?? [],
    [`HOSTNAME=${options.hostname ?? id.slice(0, 12)}`, 'container=hutch'],
    options.env,
  );
  if (!env.some((e) => e.startsWith('HOME='))) {
    try {
      const spec = options.user ?? imageConfig.User;
      const user = resolveUser(
        spec === '' ? undefined : spec,
        {
          passwd: readContainerFile(runtime, container, '/etc/passwd'),
          group: readContainerFile(runtime, container, '/etc/group'),
        },
        [],
      );
      env.push(`HOME=${user.home}`);
    } catch {
      // a user the image does not know: the start will say so
    }
  }
  return env;
}

function volumeName(runtime: Runtime, source: string): string | undefined {
  const prefix = `${volumesDir(runtime.paths.storage)}/`;
  if (!source.startsWith(prefix) || !source.endsWith('/_data')) return undefined;
  const name = source.slice(prefix.length, -'/_data'.length);
  return name.includes('/') ? undefined : name;
}

function mountsOf(runtime: Runtime, container: Container) {
  const mounts: Record<string, unknown>[] = [];
  const binds: string[] = [];
  const tmpfs: Record<string, string> = {};
  for (const mount of container.config.options.mounts) {
    const rw = mount.readonly ? 'ro' : 'rw';
    if (mount.type === 'tmpfs') {
      tmpfs[mount.destination] = [rw, 'rprivate', ...mount.options, ...mount.data].join(',');
      continue;
    }
    const propagation = (mount as BindMountSpec).propagation ?? 'rprivate';
    const bind = mount.recursive ? 'rbind' : 'bind';
    const options = [...mount.options, bind];
    const name = volumeName(runtime, mount.source);
    mounts.push({
      Type: name === undefined ? 'bind' : 'volume',
      ...(name === undefined ? {} : { Name: name }),
      Source: mount.source,
      Destination: mount.destination,
      Driver: name === undefined ? '' : 'local',
      Mode: '',
      Options: options,
      RW: !mount.readonly,
      Propagation: propagation,
    });
    binds.push(`${name ?? mount.source}:${mount.destination}:${[rw, propagation, ...options].join(',')}`);
  }
  return { mounts, binds, tmpfs };
}

function runningExecs(container: Container): string[] {
  if (container.state.status !== 'running') return [];
  const root = join(container.runtimeDir, 'exec');
  return (ifExists(() => readdirSync(root)) ?? []).filter((id) => !existsSync(join(root, id, 'exit')));
}

/** podman's container inspect object. */
export function inspectContainer(runtime: Runtime, container: Container): Record<string, unknown> {
  const { config, state } = container;
  const { options, imageConfig } = config;
  let args: string[] = [];
  try {
    args = containerArgs(container);
  } catch {
    // no command: Path and Args stay empty
  }
  const running = state.status === 'running';
  const paused = isPaused(state);
  const userdata = join(container.dir, 'userdata');
  const { mounts, binds, tmpfs } = mountsOf(runtime, container);
  let stopSignal = 15;
  try {
    stopSignal = parseSignal(options.stopSignal ?? imageConfig.StopSignal ?? 'SIGTERM');
  } catch {
    // an image with a signal hutch does not know: SIGTERM is what stop sends then too
  }
  const command = options.command ?? (options.entrypoint !== undefined ? [] : (imageConfig.Cmd ?? []));
  const entrypoint = options.entrypoint ?? imageConfig.Entrypoint ?? [];
  const network = running ? state.network : undefined;
  const published = storedRequest(options).publish;
  return {
    Id: config.id,
    Created: config.created,
    Path: args[0] ?? '',
    Args: args.slice(1),
    State: {
      OciVersion: '1.0.2',
      Status: containerState(container),
      Running: running,
      Paused: paused,
      Restarting: false,
      OOMKilled: wasOomKilled(state),
      Dead: false,
      Pid: running ? state.pid : 0,
      ConmonPid: running ? state.monitorPid : 0,
      ExitCode: state.exitCode ?? 0,
      Error: state.error ?? '',
      StartedAt: time(state.startedAt),
      FinishedAt: time(state.finishedAt),
      Health: inspectHealth({ hasHealthcheck: options.healthcheck !== undefined, running, health: state.health }),
      // The container's cgroup directory while it runs ('' without one).
      CgroupPath: running ? (state.cgroup?.path ?? '') : '',
    },
    Image: hexOf(config.image.id),
    ImageDigest: config.image.manifest,
    ImageName: config.image.name ?? hexOf(config.image.id),
    Rootfs: '',
    Pod: '',
    ResolvConfPath: join(userdata, 'resolv.conf'),
    HostnamePath: join(userdata, 'hostname'),
    HostsPath: join(userdata, 'hosts'),
    StaticDir: container.dir,
    ConmonPidFile: join(container.runtimeDir, 'monitor.pid'),
    Name: config.name,
    RestartCount: state.restartCount,
    Driver: config.rootfsDriver,
    MountLabel: '',
    ProcessLabel: '',
    AppArmorProfile: '',
    ExecIDs: runningExecs(container),
    GraphDriver: {
      Name: config.rootfsDriver,
      Data:
        config.rootfsDriver === 'copy'
          ? { MergedDir: join(container.dir, 'merged') }
          : {
              MergedDir: join(container.dir, 'merged'),
              UpperDir: join(container.dir, 'upper'),
              WorkDir: join(container.dir, 'work'),
            },
    },
    Mounts: mounts,
    Dependencies: [],
    NetworkSettings: {
      EndpointID: '',
      Gateway: network?.gateway ?? '',
      IPAddress: network?.address ?? '',
      IPPrefixLen: 0,
      IPv6Gateway: '',
      GlobalIPv6Address: '',
      GlobalIPv6PrefixLen: 0,
      MacAddress: '',
      Bridge: '',
      SandboxID: '',
      HairpinMode: false,
      LinkLocalIPv6Address: '',
      LinkLocalIPv6PrefixLen: 0,
      Ports: portMap(network?.ports ?? published),
      SandboxKey: running && network !== undefined && network.mode !== 'host' ? `/proc/${state.pid}/ns/net` : '',
    },
    Namespace: '',
    IsInfra: false,
    Config: {
      Hostname: options.hostname ?? config.id.slice(0, 12),
      Domainname: '',
      User: options.user ?? imageConfig.User ?? '',
      AttachStdin: false,
      AttachStdout: false,
      AttachStderr: false,
      Tty: options.tty,
      OpenStdin: options.interactive,
      StdinOnce: false,
      Env: containerEnv(runtime, container),
      Cmd: command.length === 0 ? null : command,
      Image: config.image.name ?? hexOf(config.image.id),
      Volumes: null,
      WorkingDir: options.workdir ?? (imageConfig.WorkingDir || '/'),
      // podman 4 prints the entrypoint as one string.
      Entrypoint: entrypoint.join(' '),
      OnBuild: null,
      Labels:
        Object.keys(options.labels).length === 0
          ? (imageConfig.Labels ?? null)
          : { ...imageConfig.Labels, ...options.labels },
      Annotations: {},
      StopSignal: stopSignal,
      ...(options.healthcheck === undefined ? {} : { Healthcheck: inspectHealthcheck(options.healthcheck) }),
      HealthcheckOnFailureAction: options.healthcheck?.onFailure ?? 'none',
      Umask: '0022',
      ...(options.timezone === undefined ? {} : { Timezone: options.timezone }),
      Timeout: options.timeout ?? 0,
      StopTimeout: options.stopTimeout ?? 10,
    },
    HostConfig: {
      Binds: binds,
      LogConfig: inspectLogConfig(options.log, container.dir),
      NetworkMode: options.network,
      PortBindings: portMap(published),
      RestartPolicy: inspectRestartPolicy(options.restartPolicy),
      AutoRemove: options.autoRemove,
      CapAdd: options.capAdd.map(normalizeCapabilityName),
      CapDrop: options.capDrop.map(normalizeCapabilityName),
      GroupAdd: options.groupAdd,
      Init: options.init,
      IpcMode: 'private',
      PidMode: 'private',
      UTSMode: 'private',
      Privileged: options.privileged,
      ReadonlyRootfs: options.readOnly,
      SecurityOpt: options.securityOpt,
      Tmpfs: tmpfs,
      UsernsMode: options.userns ?? '',
      ...hostConfigResources(options.resources ?? {}),
      Ulimits: inspectUlimits(options.ulimits),
    },
  };
}

/**
 * The object a name stands for, looked up as --type says (all: a container,
 * then an image, then a volume), or the error that says it is none.
 */
export function findObject(runtime: Runtime, name: string, type: InspectType): Record<string, unknown> | HutchError {
  if (type === 'all' || type === 'container') {
    const container = runtime.containers
      .list()
      .find(
        (c) => c.config.id === name || c.config.name === name || (name.length >= 3 && c.config.id.startsWith(name)),
      );
    if (container !== undefined) return inspectContainer(runtime, runtime.containers.find(name));
    if (type === 'container') return new HutchError(`inspecting object: no such container ${name}`);
  }
  if (type === 'all' || type === 'image') {
    try {
      return inspectJson(runtime.images.resolveImage(name));
    } catch (error) {
      if (!(error instanceof ImageNotKnownError)) {
        if (error instanceof HutchError) return new HutchError(`inspecting object: ${error.message}`);
        throw error;
      }
      if (type === 'image') return new HutchError(`inspecting object: ${name}: image not known`);
    }
  }
  try {
    return inspectVolume(runtime.paths.storage, name, volumeUsers(runtime)) as unknown as Record<string, unknown>;
  } catch (error) {
    // No such volume is a HutchError; a volume that cannot be read (EACCES) is not "no such object".
    if (!(error instanceof HutchError)) throw error;
    return new HutchError(
      type === 'volume'
        ? `inspecting object: no such volume ${name}`
        : `inspecting object: no such object: ${JSON.stringify(name)}`,
    );
  }
}
