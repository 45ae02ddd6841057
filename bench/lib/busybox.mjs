/** The busybox rootfs tar the tests make and cache (test/helpers/images.ts), shared by the benchmarks. */
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { cacheDir } from './fixtures.mjs';

export function busyboxTar() {
  const found = existsSync(cacheDir)
    ? readdirSync(cacheDir).find((n) => /^busybox-rootfs-.*\.tar$/.test(n))
    : undefined;
  if (found === undefined) {
    throw new Error(`no busybox rootfs tar in ${cacheDir}: run the tests once (bash scripts/test) to make it`);
  }
  return join(cacheDir, found);
}
