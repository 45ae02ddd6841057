/**
 * RUN --mount, as BuildKit gives it to a step:
 *
 * - bind: a path of the context (or of a stage or image with from=), read-only
 *   (BuildKit's rw, whose writes are thrown away, is refused);
 * - cache: a directory kept between builds under `<storage>/build-mounts/`,
 *   named by its id (the target by default), created with mode/uid/gid;
 *   sharing=locked and private hold a lock for the step (private therefore
 *   waits where BuildKit would hand out a second directory);
 * - tmpfs: an empty tmpfs, size= honoured;
 * - secret: a --secret given to the build, as a read-only file (mode 0400 by
 *   default) or, with env=, a variable; a missing one is skipped unless
 *   required=true. Secrets are never part of a cache key or a layer.
 *
 * The mount points the container makes are removed from the step's layer
 * (while empty) with the other mount points.
 */
import { chmodSync, chownSync, existsSync, lchownSync, mkdirSync, writeFileSync } from 'node:fs';
import { join, posix } from 'node:path';
import type { Position } from '../containerfile/ast.js';
import type { Mount } from '../containerfile/instructions.js';
import { BuildfileError } from '../containerfile/parser.js';
import type { BuildContext } from '../context.js';
import { acquireLock } from '../../fs/lock.js';
import type { MountSpec } from '../../run/container/spec.js';
import { sha256 } from '../state.js';

/** A --secret of the build: a file's content or an environment variable's value. */
export type BuildSecret = { value: Buffer };

export interface MountSources {
  file: string;
  position: Position;
  context: BuildContext;
  /** A stage's or image's root file system, mounted read-only until the step ends; key names its content. */
  tree(from: string): Promise<{ root: string; key: string }>;
  storage: string;
  secrets: ReadonlyMap<string, BuildSecret>;
  /** A directory of the step's own for files to bind (removed with the step). */
  scratch: string;
}

export interface PreparedMounts {
  specs: MountSpec[];
  /** Variables for secrets given with env=. */
  env: string[];
  /** What the cache key must see: the content of bind sources. */
  keyParts: string[];
  /** Releases the cache locks. */
  release(): void;
}

export async function prepareRunMounts(
  mounts: readonly Mount<string>[],
  sources: MountSources,
): Promise<PreparedMounts> {
  const prepared: PreparedMounts = { specs: [], env: [], keyParts: [], release: () => undefined };
  const releases: (() => void)[] = [];
  prepared.release = () => releases.splice(0).forEach((r) => r());
  const fail = (mount: Mount<string>, reason: string, hint?: string): never => {
    throw new BuildfileError(
      sources.file,
      mount.spec.position,
      `RUN --mount=type=${mount.type}: ${reason}`,
      hint === undefined ? {} : { hint },
    );
  };
  try {
    for (const [i, mount] of mounts.entries()) {
      const target = mount.target === undefined ? undefined : posix.resolve('/', mount.target);
      switch (mount.type) {
        case 'tmpfs': {
          if (target === undefined) fail(mount, 'target is required');
          prepared.specs.push({
            type: 'tmpfs',
            destination: target as string,
            readonly: false,
            data: mount.size === undefined ? [] : [`size=${mount.size}`],
            options: ['nosuid', 'nodev'],
          });
          break;
        }
        case 'bind': {
          if (target === undefined) fail(mount, 'target is required');
          if (mount.readonly === false) {
            fail(
              mount,
              'rw (writes thrown away after the step) is not supported by hutch build',
              'leave out rw, or COPY what the step must change',
            );
          }
          const source = mount.source ?? '.';
          let host: string;
          if (mount.from === undefined) {
            const [found] = await sources.context.resolveSources([{ source, position: mount.spec.position }], {
              file: sources.file,
              instruction: 'COPY',
              wildcards: false,
            });
            host = (found?.entries[0]?.absolute ?? sources.context.root) as string;
            prepared.keyParts.push(
              `bind ${source} ${await sources.context.hashSources(found === undefined ? [] : [found])}`,
            );
          } else {
            const tree = await sources.tree(mount.from);
            const { BuildContext } = await import('../context.js');
            const inside = await BuildContext.openTree(tree.root);
            const [found] = await inside.resolveSources([{ source, position: mount.spec.position }], {
              file: sources.file,
              instruction: 'COPY',
              wildcards: false,
            });
            host = (found?.entries[0]?.absolute ?? tree.root) as string;
            prepared.keyParts.push(`bind ${mount.from} ${source} ${tree.key}`);
          }
          prepared.specs.push({
            type: 'bind',
            source: host,
            destination: target as string,
            readonly: true,
            recursive: true,
            options: [],
          });
          break;
        }
        case 'cache': {
          if (target === undefined) fail(mount, 'target is required');
          if (mount.from !== undefined)
            fail(mount, 'from= is not supported by hutch build', 'leave out from=: the cache starts empty');
          const id = mount.id ?? (target as string);
          const dir = join(sources.storage, 'build-mounts', 'cache', sha256(id));
          const created = !existsSync(dir);
          mkdirSync(dir, { recursive: true, mode: 0o755 });
          if (created) {
            chownSync(dir, Number(mount.uid ?? 0), Number(mount.gid ?? 0));
            chmodSync(dir, mount.mode === undefined ? 0o755 : parseInt(mount.mode, 8));
          }
          if (mount.sharing === 'locked' || mount.sharing === 'private') {
            releases.push(await acquireLock(`${dir}.lock`));
          }
          prepared.specs.push({
            type: 'bind',
            source: dir,
            destination: target as string,
            readonly: mount.readonly === true,
            recursive: false,
            options: [],
          });
          break;
        }
        case 'secret': {
          const id = mount.id as string;
          const secret = sources.secrets.get(id);
          if (secret === undefined) {
            if (mount.required === true)
              fail(mount, `secret ${id} was not given`, `pass it with --secret id=${id},src=FILE`);
            break;
          }
          if (mount.env !== undefined) {
            prepared.env.push(`${mount.env}=${secret.value.toString('utf8')}`);
            if (target === undefined) break;
          }
          const host = join(sources.scratch, `secret-${i}`);
          writeFileSync(host, secret.value, { mode: 0o400 });
          chmodSync(host, mount.mode === undefined ? 0o400 : parseInt(mount.mode, 8));
          lchownSync(host, Number(mount.uid ?? 0), Number(mount.gid ?? 0));
          prepared.specs.push({
            type: 'bind',
            source: host,
            destination: target as string,
            readonly: true,
            recursive: false,
            options: ['nosuid', 'nodev', 'noexec'],
          });
          break;
        }
        case 'ssh':
          fail(mount, 'SSH agent forwarding is not supported by hutch build');
      }
    }
    return prepared;
  } catch (error) {
    prepared.release();
    throw error;
  }
}

/** Each mount target and the directories above it: removed from the layer while empty. */
export function mountPointsOf(specs: readonly MountSpec[]): string[] {
  const out = new Set<string>();
  for (const spec of specs) {
    const parts = spec.destination.split('/').filter((p) => p !== '');
    for (let i = 1; i <= parts.length; i++) out.add(`/${parts.slice(0, i).join('/')}`);
  }
  return [...out];
}
