/**
 * bench/scale-ps.mjs: how `ps -a` grows with the number of containers.
 * hutch and podman (rootless, --runtime runc) each list a store of 10 and a
 * store of 100 created containers; "× 10" divides by the small store, so
 * linear growth shows as 10×, and constant cost as 1×.
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/scale-ps.mjs'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar } from './lib/busybox.mjs';
import { main, requireUnprivileged, which } from './lib/harness.mjs';
import { hutchBin, hutchUser, podmanUser } from './lib/fixtures.mjs';

requireUnprivileged('bench/scale-ps.mjs');

const SMALL = 10;
const LARGE = 100;
const image = 'localhost/bench-busybox:latest';

await main(() => {
  const work = mkdtempSync(join(tmpdir(), 'hb-ps-'));
  const stores = {
    hutchSmall: hutchUser(join(work, 'hutch-small')),
    hutchLarge: hutchUser(join(work, 'hutch-large')),
    podmanSmall: podmanUser(join(work, 'p-small')),
    podmanLarge: podmanUser(join(work, 'p-large')),
  };
  const fill = (tool, count) => {
    tool.run(['import', busyboxTar(), image]);
    for (let i = 0; i < count; i++) tool.run(['create', '--network', 'none', '--name', `c${i}`, image, 'true']);
  };
  const podmanMissing = () => (which('podman') === null ? 'podman is not installed (Debian package podman)' : null);
  return {
    defaults: { runs: 10, warmup: 2, rssRuns: 1 },
    name: 'scale-ps',
    title: `List every container: ps -a, with ${SMALL} and with ${LARGE} created containers.`,
    subject: `hutch ps ${LARGE}`,
    baselines: [`podman ps ${LARGE}`, `hutch ps ${SMALL}`],
    notes: ['each figure is one store, filled before the warm-up with created (not started) busybox containers'],
    teardown: () => {
      for (const store of Object.values(stores)) store.dispose();
      rmSync(work, { recursive: true, force: true });
    },
    drivers: [
      {
        name: `hutch ps ${SMALL}`,
        command: [hutchBin, 'ps', '-a'],
        env: stores.hutchSmall.env,
        setup: () => fill(stores.hutchSmall, SMALL),
      },
      {
        name: `hutch ps ${LARGE}`,
        command: [hutchBin, 'ps', '-a'],
        env: stores.hutchLarge.env,
        setup: () => fill(stores.hutchLarge, LARGE),
      },
      {
        name: `podman ps ${SMALL}`,
        command: stores.podmanSmall.argv(['ps', '-a']),
        env: stores.podmanSmall.env,
        available: podmanMissing,
        setup: () => fill(stores.podmanSmall, SMALL),
      },
      {
        name: `podman ps ${LARGE}`,
        command: stores.podmanLarge.argv(['ps', '-a']),
        env: stores.podmanLarge.env,
        available: podmanMissing,
        setup: () => fill(stores.podmanLarge, LARGE),
      },
    ],
  };
});
