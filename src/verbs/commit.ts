/**
 * `hutch commit [-m MSG] [-a AUTHOR] [-c INSTRUCTION]… CONTAINER [IMAGE]`: the
 * container's changes as one new layer on its image
 * (src/run/container/commit.ts); returns the image id.
 *
 * Not supported: pausing (-p): a rootless container here has no cgroup
 * freezer, so -p is refused rather than ignored; the copy driver keeps no
 * upper directory to diff, so its containers are refused.
 */
import { HutchError } from '../errors.js';
import type { Digest } from '../image/digest.js';
import { normalizeTag } from '../image/store/refs.js';
import { applyChanges, commitContainer, committedConfig, type CommitFlags } from '../run/container/commit.js';
import { openRuntime } from '../run/container/lifecycle.js';

export async function commit(
  flags: CommitFlags & { onWarning: (message: string) => void },
  env: NodeJS.ProcessEnv = process.env,
): Promise<Digest> {
  if (flags.pause) {
    throw new HutchError('pausing is not supported: a rootless container here has no cgroup freezer to pause it with', {
      hint: 'commit without -p (the container keeps running while its changes are read)',
    });
  }
  if (flags.image !== undefined) normalizeTag(flags.image);
  const runtime = await openRuntime(env);
  const container = runtime.containers.find(flags.container);
  if (container.config.rootfsDriver === 'copy') {
    throw new HutchError(
      `cannot commit container ${container.config.name}: its rootfs driver "copy" keeps no upper directory to take the changes from`,
      { hint: 'containers made with the overlay or fuse-overlayfs driver can be committed' },
    );
  }
  const config = committedConfig(container);
  applyChanges(config, flags.changes);
  return commitContainer(runtime, container, config, flags);
}
