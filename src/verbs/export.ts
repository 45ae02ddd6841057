/**
 * `hutch export [-o FILE] CONTAINER`: the container's root file system as a
 * tar (src/run/container/rootfs-tar.ts writes it), to FILE (a temp file
 * beside it, renamed into place once whole) or to the stdout the caller gives,
 * which must not be a terminal (podman's rule). A stopped container's tree is
 * mounted for the export.
 */
import { createWriteStream, renameSync, rmSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError } from '../errors.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { withContainerRootfs } from '../run/container/mounted-rootfs.js';
import { exportRootfs } from '../run/container/rootfs-tar.js';

export async function exportContainer(
  name: string,
  output: string | undefined,
  stdout: Writable & { isTTY?: boolean },
  env: NodeJS.ProcessEnv = process.env,
): Promise<void> {
  if (output === undefined && stdout.isTTY === true) {
    throw new HutchError('refusing to export to terminal. Use -o flag or redirect');
  }
  const runtime = await openRuntime(env);
  const container = runtime.containers.find(name);
  if (output === undefined) {
    await withContainerRootfs(runtime, container, (rootfs) => writeTar(rootfs, stdout, false));
    return;
  }
  const target = resolve(output);
  const temp = join(dirname(target), `.${basename(target)}.hutch-${process.pid}.tmp`);
  const file = await openFile(temp, output);
  try {
    await withContainerRootfs(runtime, container, (rootfs) => writeTar(rootfs, file, true));
    renameSync(temp, target);
  } catch (error) {
    file.destroy();
    rmSync(temp, { force: true });
    throw error;
  }
}

function openFile(path: string, shown: string): Promise<Writable> {
  return new Promise((resolvePromise, reject) => {
    const stream = createWriteStream(path, { flags: 'wx', mode: 0o644 });
    stream.once('open', () => resolvePromise(stream));
    // The temp file's name means nothing to the user: the error names the file asked for.
    stream.once('error', (error) =>
      reject(new HutchError(`creating file ${JSON.stringify(shown)}: ${error.message.replace(/, open '.*'$/, '')}`)),
    );
  });
}

async function writeTar(rootfs: string, to: Writable, end: boolean): Promise<void> {
  await pipeline(exportRootfs(rootfs), to, { end });
}
