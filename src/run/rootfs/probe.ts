/**
 * The ways a container's root file system can be assembled from image layers,
 * in order of preference, and the choice between them. Each driver's probe
 * lives with its mount (overlay.ts, fuse-overlayfs.ts, copy.ts) and really
 * tries what the driver needs, so `hutch info` and the run code choose alike.
 */
import { mkdirSync, readFileSync } from 'node:fs';
import { HutchError } from '../../errors.js';
import { release } from 'node:os';
import { join } from 'node:path';
import { processStartTime } from '../../host/proc.js';
import { copyDriver } from './copy-driver.js';
import { fuseOverlayfsDriver } from './fuse-overlayfs.js';
import type { RootfsCheck, RootfsDriver, RootfsDriverName, RootfsHost, StorageDriver } from './index.js';
import { overlayDriver } from './overlay.js';

export type {
  RootfsCheck,
  RootfsDriver,
  RootfsDriverName,
  RootfsHost,
  RootfsLayout,
  RootfsMountOptions,
  StorageDriver,
} from './index.js';
import { writeFileAtomic } from '../../fs/atomic-write.js';

/** In order of preference; the first whose probe is ok is used. */
export const rootfsDrivers: readonly RootfsDriver[] = [overlayDriver, fuseOverlayfsDriver, copyDriver];

/** The drivers of each --storage-driver: podman's overlay is overlayfs, or fuse-overlayfs as its mount_program. */
const DRIVERS_OF: Record<StorageDriver, readonly RootfsDriver[]> = {
  overlay: [overlayDriver, fuseOverlayfsDriver],
  vfs: [copyDriver],
};

/**
 * podman's --storage-driver (HUTCH_STORAGE_DRIVER in the environment, so the
 * monitor's cleanup command and a re-exec keep it): overlay or vfs; undefined
 * when not given (the first driver that works). Others are refused.
 */
export function storageDriverOf(value: string | undefined): StorageDriver | undefined {
  if (value === undefined || value === '') return undefined;
  if (value === 'overlay' || value === 'vfs') return value;
  throw new HutchError(
    `unsupported storage driver ${JSON.stringify(value)}: hutch has overlay (overlayfs or fuse-overlayfs) and vfs (a full copy per container)`,
    { hint: 'use --storage-driver overlay or vfs, or leave it out' },
  );
}

export interface RootfsReport {
  drivers: ({ name: RootfsDriverName } & RootfsCheck)[];
  selected: RootfsDriverName;
}

/** Probes every driver (one after another: they share the storage directory). */
export async function probeRootfs(host: RootfsHost): Promise<RootfsReport> {
  const drivers: RootfsReport['drivers'] = [];
  for (const driver of rootfsDrivers) drivers.push({ name: driver.name, ...(await driver.probe(host)) });
  return { drivers, selected: drivers.find((d) => d.ok)?.name ?? 'copy' };
}

const COPY_WARNING =
  'neither overlayfs nor fuse-overlayfs works here, so every container gets a full copy of its image: slow, and it uses more disk (hutch info says why)';

/** One choice per process and storage directory: the probes mount things, so they run once. */
const chosen = new Map<string, Promise<RootfsDriver>>();
let warned = false;

/**
 * The driver containers use: the first whose probe is ok, probed once per
 * process (and storage directory). Choosing the copy driver prints one warning
 * per process, through onWarning.
 */
export function selectRootfsDriver(
  host: RootfsHost,
  options: { onWarning: (message: string) => void },
): Promise<RootfsDriver> {
  const candidates = host.storageDriver === undefined ? rootfsDrivers : DRIVERS_OF[host.storageDriver];
  const key = `${host.storageDriver ?? ''}:${host.storage}`;
  const known = chosen.get(key);
  if (known !== undefined) return known;
  const remembered = rememberedChoice(host);
  if (remembered !== undefined && candidates.includes(remembered)) {
    const driver = Promise.resolve(remembered);
    chosen.set(key, driver);
    return driver;
  }
  const choosing = (async () => {
    const reasons: string[] = [];
    for (const driver of candidates) {
      const check = await driver.probe(host);
      if (!check.ok) {
        reasons.push(`${driver.name}: ${check.detail}`);
        continue;
      }
      // Only the free choice is remembered: it is what the next command without --storage-driver takes.
      if (host.storageDriver === undefined) rememberChoice(host, driver);
      // Asked for (vfs), a copy is what the user wants: no warning.
      if (driver.name === 'copy' && host.storageDriver === undefined && !warned) {
        warned = true;
        options.onWarning(COPY_WARNING);
      }
      return driver;
    }
    if (host.storageDriver !== undefined) {
      throw new HutchError(`storage driver ${host.storageDriver} does not work here: ${reasons.join('; ')}`, {
        hint: 'hutch info lists the drivers that work; leave --storage-driver out to take the first of them',
      });
    }
    return copyDriver;
  })();
  chosen.set(key, choosing);
  return choosing;
}

/**
 * What the probes found holds for as long as the session (the same kernel,
 * user namespace and helpers) lives, so the choice is kept in a file for
 * the commands after this one: probing mounts an overlay, which costs a
 * process and tens of milliseconds on every `hutch run`. Real root has no
 * session; it probes once per process.
 */
function choiceKey(host: RootfsHost): string | undefined {
  const session = host.identity.session;
  if (session === undefined || host.runtime === undefined) return undefined;
  // The start time tells a reused pid apart.
  const startTime = processStartTime(session);
  if (startTime === undefined) return undefined;
  return `${release()} session ${session}:${startTime} path ${host.pathVar ?? ''}`;
}

function choiceFile(runtime: string): string {
  return join(runtime, 'rootfs-driver.json');
}

function rememberedChoice(host: RootfsHost): RootfsDriver | undefined {
  const key = choiceKey(host);
  if (key === undefined || host.runtime === undefined) return undefined;
  try {
    const saved = JSON.parse(readFileSync(choiceFile(host.runtime), 'utf8')) as { key?: unknown; driver?: unknown };
    if (saved.key !== key) return undefined;
    return rootfsDrivers.find((d) => d.name === saved.driver && d.name !== 'copy');
  } catch {
    return undefined;
  }
}

function rememberChoice(host: RootfsHost, driver: RootfsDriver): void {
  const key = choiceKey(host);
  if (key === undefined || host.runtime === undefined) return;
  try {
    const file = choiceFile(host.runtime);
    mkdirSync(host.runtime, { recursive: true, mode: 0o700 });
    writeFileAtomic(file, JSON.stringify({ key, driver: driver.name }));
  } catch {
    // Only a saving of time: the next command probes again.
  }
}

/** The driver of that name (a container records the one that mounted it). */
export function rootfsDriver(name: RootfsDriverName): RootfsDriver {
  const driver = rootfsDrivers.find((d) => d.name === name);
  if (driver === undefined) throw new Error(`unknown rootfs driver ${JSON.stringify(name)}`);
  return driver;
}
