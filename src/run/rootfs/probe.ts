/**
 * The ways a container's root file system can be assembled from image layers,
 * in order of preference, and the choice between them. Each driver's probe
 * lives with its mount (overlay.ts, fuse-overlayfs.ts, copy.ts) and really
 * tries what the driver needs, so `hutch info` and the run code choose alike.
 */
import { copyDriver } from './copy.js';
import { fuseOverlayfsDriver } from './fuse-overlayfs.js';
import type { RootfsCheck, RootfsDriver, RootfsDriverName, RootfsHost } from './index.js';
import { overlayDriver } from './overlay.js';

export type {
  RootfsCheck,
  RootfsDriver,
  RootfsDriverName,
  RootfsHost,
  RootfsLayout,
  RootfsMountOptions,
} from './index.js';

/** In order of preference; the first whose probe is ok is used. */
export const rootfsDrivers: readonly RootfsDriver[] = [overlayDriver, fuseOverlayfsDriver, copyDriver];

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
 * per process (through onWarning, stderr by default).
 */
export function selectRootfsDriver(
  host: RootfsHost,
  options: { onWarning?: (message: string) => void } = {},
): Promise<RootfsDriver> {
  const known = chosen.get(host.storage);
  if (known !== undefined) return known;
  const choosing = (async () => {
    for (const driver of rootfsDrivers) {
      if (!(await driver.probe(host)).ok) continue;
      if (driver.name === 'copy' && !warned) {
        warned = true;
        (options.onWarning ?? ((m: string) => process.stderr.write(`warning: ${m}\n`)))(COPY_WARNING);
      }
      return driver;
    }
    return copyDriver;
  })();
  chosen.set(host.storage, choosing);
  return choosing;
}

/** The driver of that name (a container records the one that mounted it). */
export function rootfsDriver(name: RootfsDriverName): RootfsDriver {
  const driver = rootfsDrivers.find((d) => d.name === name);
  if (driver === undefined) throw new Error(`unknown rootfs driver ${JSON.stringify(name)}`);
  return driver;
}
