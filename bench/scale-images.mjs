/**
 * bench/scale-images.mjs: how `images` grows with the number of images. hutch
 * and podman (rootless) each list a store of 50 and a store of 500 names
 * (one busybox image tagged that many times, by one `tag` command each: the
 * listing reads every name, as it would distinct images); "× 50" divides by
 * the small store, so linear growth shows as 10×.
 *
 *   runuser -u hutch-ci -- bash -c 'cd ~/hutch && node bench/scale-images.mjs'
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { busyboxTar } from './lib/busybox.mjs';
import { main, requireUnprivileged, which } from './lib/harness.mjs';
import { hutchBin, hutchUser, podmanUser } from './lib/fixtures.mjs';

requireUnprivileged('bench/scale-images.mjs');

const SMALL = 50;
const LARGE = 500;
const image = 'localhost/bench-busybox:latest';

await main(() => {
  const work = mkdtempSync(join(tmpdir(), 'hb-images-'));
  const stores = {
    hutchSmall: hutchUser(join(work, 'hutch-small')),
    hutchLarge: hutchUser(join(work, 'hutch-large')),
    podmanSmall: podmanUser(join(work, 'p-small')),
    podmanLarge: podmanUser(join(work, 'p-large')),
  };
  const fill = (tool, count) => {
    tool.run(['import', busyboxTar(), image]);
    const names = Array.from({ length: count - 1 }, (_, i) => `localhost/scale/image${i}:latest`);
    tool.run(['tag', image, ...names]);
  };
  const podmanMissing = () => (which('podman') === null ? 'podman is not installed (Debian package podman)' : null);
  return {
    defaults: { runs: 10, warmup: 2, rssRuns: 1 },
    name: 'scale-images',
    title: `List every image: images, with ${SMALL} and with ${LARGE} image names.`,
    subject: `hutch images ${LARGE}`,
    baselines: [`podman images ${LARGE}`, `hutch images ${SMALL}`],
    teardown: () => {
      for (const store of Object.values(stores)) store.dispose();
      rmSync(work, { recursive: true, force: true });
    },
    drivers: [
      {
        name: `hutch images ${SMALL}`,
        command: [hutchBin, 'images'],
        env: stores.hutchSmall.env,
        setup: () => fill(stores.hutchSmall, SMALL),
      },
      {
        name: `hutch images ${LARGE}`,
        command: [hutchBin, 'images'],
        env: stores.hutchLarge.env,
        setup: () => fill(stores.hutchLarge, LARGE),
      },
      {
        name: `podman images ${SMALL}`,
        command: stores.podmanSmall.argv(['images']),
        env: stores.podmanSmall.env,
        available: podmanMissing,
        setup: () => fill(stores.podmanSmall, SMALL),
      },
      {
        name: `podman images ${LARGE}`,
        command: stores.podmanLarge.argv(['images']),
        env: stores.podmanLarge.env,
        available: podmanMissing,
        setup: () => fill(stores.podmanLarge, LARGE),
      },
    ],
  };
});
