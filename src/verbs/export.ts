/**
 * `hutch export [-o FILE] CONTAINER`: the container's root file system as a
 * tar (src/run/container/rootfs-tar.ts writes it), to FILE (a temp file
 * beside it, renamed into place once whole) or to the stdout the caller gives,
 * which must not be a terminal (podman's rule). A stopped container's tree is
 * mounted for the export.
 */
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { HutchError } from '../errors.js';
import { openRuntime } from '../run/container/lifecycle.js';
import { withContainerRootfs } from '../run/container/mounted-rootfs.js';
import { exportRootfs } from '../run/container/rootfs-tar.js';
import { fillAtomic, openAtomic, type PendingFile } from '../fs/atomic-write.js';

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
  const file = openFile(target, output);
  await fillAtomic(file, (out) => withContainerRootfs(runtime, container, (rootfs) => writeTar(rootfs, out, true)));
}

function openFile(target: string, shown: string): PendingFile {
  try {
    return openAtomic(target, { mode: 0o644 });
  } catch (error) {
    // The temp file's name means nothing to the user: the error names the file asked for.
    throw new HutchError(
      `creating file ${JSON.stringify(shown)}: ${(error as Error).message.replace(/, open '.*'$/, '')}`,
    );
  }
}

async function writeTar(rootfs: string, to: Writable, end: boolean): Promise<void> {
  await pipeline(exportRootfs(rootfs), to, { end });
}
