/**
 * A container from `hutch create` and `hutch run`'s flags and an image
 * (pulled when missing): its options checked and resolved, its record made in
 * the store. Starting and attaching it is src/verbs/run.ts's.
 */
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { HutchError } from '../../errors.js';
import { createProgress, progressMode } from '../../image/progress.js';
import type { ResolvedImage } from '../../image/store/resolve.js';
import {
  checkPortsFree,
  currentRequestHost,
  describeMode,
  parseNetworkRequest,
  type NetworkFlags,
} from '../network/index.js';
import { checkEnforceable, defaultLimits, type Limits } from '../cgroups/index.js';
import { currentLimits, resolveUlimits, type UlimitRequests } from '../rlimits.js';
import { selectRootfsDriver, storageDriverOf } from '../rootfs/probe.js';
import { parseSignal, removeContainer, stopContainer, type Runtime } from './lifecycle.js';
import { resolveHealthcheck, type HealthFlags } from './healthcheck.js';
import { parseRestartPolicy } from './restart-policy.js';
import { timezoneFile } from './timezone.js';
import { parseVolumesFrom, volumesFromMounts } from './volumes-from.js';
import { parseLogConfig, type LogFlags } from './log-config.js';
import { parseMountFlag, parseTmpfsFlag, parseVolumeFlag, resolveMounts, type MountRequest } from './mount-options.js';
import type { Container, ContainerOptions } from './store.js';

export interface CreateFlags {
  image: string;
  command: string[];
  name?: string;
  env: string[];
  envFile: string[];
  user?: string;
  groupAdd: string[];
  workdir?: string;
  /** --entrypoint: a command, a JSON array, or '' to clear the image's. */
  entrypoint?: string;
  volume: string[];
  mount: string[];
  tmpfs: string[];
  readOnly: boolean;
  hostname?: string;
  init: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  privileged: boolean;
  userns?: string;
  /** --network, -p, -P, --dns, --dns-search, --add-host (checked by parseNetworkRequest). */
  network: NetworkFlags;
  tty: boolean;
  interactive: boolean;
  rm: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  label: string[];
  pull: 'missing' | 'always' | 'never';
  tlsVerify: boolean;
  /** --memory, --cpus, --pids-limit, …, parsed. */
  resources: Limits;
  /** --log-driver and --log-opt as given (checked by parseLogConfig); absent: the default k8s-file log. */
  log?: LogFlags;
  /** --ulimit, parsed (resolved against hutch's own limits at create). */
  ulimits: UlimitRequests;
  /** --health-cmd, --health-interval, …, --no-healthcheck, as given (healthcheck.ts checks them). */
  health: HealthFlags;
  /** --restart as given (restart-policy.ts). */
  restart?: string | undefined;
  /** --timeout: seconds; 0 or absent, none. */
  timeout?: number | undefined;
  /** --tz. */
  tz?: string | undefined;
  /** --volumes-from CTR[:ro|rw|z], in order. */
  volumesFrom: string[];
  /** --env-host: the host's environment first, under --env-file and -e. */
  envHost: boolean;
  /** --replace: a container of the same name is stopped and removed first. */
  replace: boolean;
  /** --cidfile: the new container's id is written there; refused when the file exists. */
  cidfile?: string | undefined;
}

export interface RunFlags extends CreateFlags {
  detach: boolean;
  /** -a: the streams relayed (stdout, stderr); stdin is -i's. Empty: all. */
  attach: ('stdin' | 'stdout' | 'stderr')[];
  /** --preserve-fds: our fds 3… handed to the container. */
  preserveFds: number;
}

/** What creating a container may tell the user along the way. */
export interface CreateReporting {
  /** Where the progress of a pull goes (bars on a terminal). */
  progress: Writable & { isTTY?: boolean };
  /** A warning (the rootfs driver chosen is the slow copy). */
  onWarning: (message: string) => void;
  /** --replace removed a container of that name (podman prints it). */
  onReplaced?: (name: string) => void;
}

function parseEntrypoint(value: string | undefined): string[] | undefined {
  if (value === undefined) return undefined;
  if (value === '') return [];
  if (value.startsWith('[')) {
    try {
      const parsed = JSON.parse(value) as unknown;
      if (Array.isArray(parsed) && parsed.every((p) => typeof p === 'string')) return parsed as string[];
    } catch {
      // not JSON: a command name
    }
    throw new HutchError(`invalid --entrypoint ${value}`, { hint: 'give a command, or a JSON array of strings' });
  }
  return [value];
}

/** hutch's own plumbing between its processes: never part of a container's environment. */
const HUTCH_INTERNAL_ENV = new Set(['HUTCH_SESSION', 'HUTCH_SESSION_REEXEC', 'HUTCH_SESSION_WARNINGS']);

/**
 * --env-host, then --env-file and -e in order; a bare KEY takes the host's
 * value (and is skipped when it has none). Later entries win (mergeEnv).
 */
export function collectEnv(
  flags: { env: string[]; envFile: string[]; envHost?: boolean },
  hostEnv: NodeJS.ProcessEnv,
): string[] {
  const entries: string[] = [];
  if (flags.envHost === true) {
    for (const [key, value] of Object.entries(hostEnv)) {
      if (value !== undefined && key !== '' && !key.includes('=') && !HUTCH_INTERNAL_ENV.has(key)) {
        entries.push(`${key}=${value}`);
      }
    }
  }
  const add = (item: string, where: string) => {
    const eq = item.indexOf('=');
    const key = eq < 0 ? item : item.slice(0, eq);
    if (key === '' || /\s/.test(key))
      throw new HutchError(`invalid environment variable ${JSON.stringify(item)} (${where})`);
    if (eq >= 0) entries.push(item);
    else if (hostEnv[key] !== undefined) entries.push(`${key}=${hostEnv[key]}`);
  };
  for (const file of flags.envFile) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch (error) {
      throw new HutchError(`--env-file ${file}: ${(error as Error).message}`);
    }
    text.split('\n').forEach((line, i) => {
      const trimmed = line.replace(/\r$/, '');
      if (trimmed.trim() === '' || trimmed.trimStart().startsWith('#')) return;
      add(trimmed.trimStart(), `${file} line ${i + 1}`);
    });
  }
  for (const item of flags.env) add(item, '-e');
  return entries;
}

function parseLabels(labels: string[]): Record<string, string> {
  const result: Record<string, string> = {};
  for (const label of labels) {
    const eq = label.indexOf('=');
    result[eq < 0 ? label : label.slice(0, eq)] = eq < 0 ? '' : label.slice(eq + 1);
  }
  return result;
}

async function imageFor(
  runtime: Runtime,
  flags: CreateFlags,
  reporting: CreateReporting,
  env: NodeJS.ProcessEnv,
): Promise<ResolvedImage> {
  const { images } = runtime;
  const find = () => {
    try {
      return images.resolveImage(flags.image);
    } catch (error) {
      if ((error as Error).name === 'ImageNotKnownError' || /image not known/.test((error as Error).message))
        return undefined;
      throw error;
    }
  };
  let image = flags.pull === 'always' ? undefined : find();
  if (image === undefined) {
    if (flags.pull === 'never') {
      throw new HutchError(`${flags.image}: image not known`, {
        hint: `pull it first (hutch pull ${flags.image}) or drop --pull=never`,
      });
    }
    const { pullImage } = await import('../../image/pull.js');
    const result = await pullImage(
      {
        reference: flags.image,
        tlsVerify: flags.tlsVerify,
        platform: undefined,
        progress: createProgress(progressMode(reporting.progress, false, env), reporting.progress),
      },
      env,
    );
    image = images.resolveImage(result.id);
  }
  return image;
}

export async function createContainer(
  runtime: Runtime,
  flags: CreateFlags,
  reporting: CreateReporting,
  env: NodeJS.ProcessEnv = process.env,
): Promise<Container> {
  // A limit this host cannot enforce is refused before anything exists, as podman refuses it at create.
  checkEnforceable(flags.resources);
  if (flags.stopSignal !== undefined) parseSignal(flags.stopSignal);
  if (flags.replace && flags.name === undefined) {
    throw new HutchError('cannot replace container without --name being set', { hint: 'name it with --name' });
  }
  const log = parseLogConfig(flags.log ?? { opts: [] }, process.cwd());
  if (log.driver === 'passthrough' && flags.tty) {
    // podman accepts it and the output goes nowhere: conmon refuses a terminal with passthrough.
    throw new HutchError("the '--log-driver passthrough' option cannot be used with --tty", {
      hint: 'passthrough hands the container your own stdin, stdout and stderr; drop -t',
    });
  }
  const ulimits = resolveUlimits(flags.ulimits, currentLimits(), runtime.identity.root);
  const restartPolicy = parseRestartPolicy(flags.restart, flags.rm);
  if (flags.tz !== undefined) timezoneFile(flags.tz);
  flags.volumesFrom.forEach(parseVolumesFrom);
  if (flags.cidfile !== undefined) checkCidfile(flags.cidfile);
  const image = await imageFor(runtime, flags, reporting, env);
  const healthcheck = resolveHealthcheck(flags.health, image.config.config?.Healthcheck);
  const networkRequest = parseNetworkRequest(
    flags.network,
    Object.keys(image.config.config?.ExposedPorts ?? {}),
    currentRequestHost({ storage: runtime.paths.storage }),
  );
  await checkPortsFree(networkRequest.publish);
  const requests: MountRequest[] = [
    ...flags.volume.map((v) => parseVolumeFlag(v)),
    ...flags.mount.map((m) => parseMountFlag(m)),
    ...flags.tmpfs.map((t) => parseTmpfsFlag(t)),
  ];
  const options: ContainerOptions = {
    command: flags.command.length > 0 ? flags.command : undefined,
    entrypoint: parseEntrypoint(flags.entrypoint),
    env: collectEnv(flags, env),
    user: flags.user,
    groupAdd: flags.groupAdd,
    workdir: flags.workdir,
    hostname: flags.hostname,
    mounts: [],
    createdVolumes: [],
    readOnly: flags.readOnly,
    init: flags.init,
    capAdd: flags.capAdd,
    capDrop: flags.capDrop,
    privileged: flags.privileged,
    securityOpt: flags.securityOpt,
    userns: flags.userns,
    network: describeMode(networkRequest),
    networkRequest,
    tty: flags.tty,
    interactive: flags.interactive,
    autoRemove: flags.rm,
    stopSignal: flags.stopSignal,
    stopTimeout: flags.stopTimeout,
    labels: parseLabels(flags.label),
    log,
    // podman's default pids limit where a cgroup can hold it, decided now and kept with the container.
    resources: defaultLimits(flags.resources),
    ulimits,
    ...(healthcheck === undefined ? {} : { healthcheck }),
    ...(restartPolicy === undefined ? {} : { restartPolicy }),
    ...(flags.timeout === undefined || flags.timeout === 0 ? {} : { timeout: flags.timeout }),
    ...(flags.tz === undefined ? {} : { timezone: flags.tz }),
  };
  if (flags.replace && flags.name !== undefined) await replaceContainer(runtime, flags.name, reporting);
  const driver = await selectRootfsDriver(
    {
      identity: runtime.identity,
      storage: runtime.paths.storage,
      pathVar: env.PATH,
      runtime: runtime.paths.runtime,
      storageDriver: storageDriverOf(env.HUTCH_STORAGE_DRIVER),
    },
    { onWarning: reporting.onWarning },
  );
  const release = await runtime.containers.lockAll();
  try {
    const resolved = await resolveMounts(requests, runtime.paths.storage);
    const own = new Set(resolved.mounts.map((m) => m.destination));
    options.mounts = [
      ...resolved.mounts,
      ...volumesFromMounts(runtime.containers, flags.volumesFrom, own, reporting.onWarning),
    ];
    options.createdVolumes = resolved.created;
    const container = runtime.containers.create({
      name: flags.name,
      image: { id: image.id, name: image.names[0], manifest: image.manifestDescriptor.digest },
      imageConfig: image.config.config ?? {},
      options,
      rootfsDriver: driver.name,
    });
    if (flags.cidfile !== undefined) writeCidfile(flags.cidfile, container.config.id);
    return container;
  } finally {
    release();
  }
}

const CIDFILE_EXISTS = (path: string) =>
  new HutchError(`container id file exists. Ensure another container is not using it or delete ${path}`, {
    hint: 'a cidfile names one container: remove the file, or give another path',
  });

/** podman refuses a --cidfile that exists (a systemd unit's container may still use it). */
function checkCidfile(path: string): void {
  if (existsSync(path)) throw CIDFILE_EXISTS(path);
}

function writeCidfile(path: string, id: string): void {
  try {
    writeFileSync(path, id, { flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') throw CIDFILE_EXISTS(path);
    throw new HutchError(`--cidfile ${path}: ${(error as Error).message}`);
  }
}

/** --replace: the container of that name, if any, stopped (its stop signal and timeout) and removed. */
async function replaceContainer(runtime: Runtime, name: string, reporting: CreateReporting): Promise<void> {
  const existing = runtime.containers.list().find((c) => c.config.name === name);
  if (existing === undefined) return;
  await stopContainer(runtime, existing);
  const stopped = runtime.containers.read(existing.config.id);
  if (stopped !== undefined) await removeContainer(runtime, stopped, { force: true, volumes: false });
  reporting.onReplaced?.(name);
}
