/**
 * `hutch cp CONTAINER:PATH -`: what the container holds at PATH as a tar
 * stream, named as a copy to a directory would name it (a directory with its
 * own name first, "DIR/." its content), every owner the container user's, as
 * podman writes it (uncompressed: podman 4.3 writes the copier's tar as is).
 */
import { fstatSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { tarStream, type TarHeader, type TarItem } from '../../image/layer/tar-writer.js';
import { readTree, type ReadOptions } from './tree-reader.js';
import { errorCode, type RootedTree } from './tree.js';

export function tarOfTree(
  source: RootedTree,
  path: string,
  options: ReadOptions & { owner: { uid: number; gid: number } },
): Readable {
  function* items(): Generator<TarItem> {
    for (const { entry, path: at, linkTo } of readTree(source, path, options)) {
      const header: TarHeader = {
        name: entry.name,
        type: entry.kind,
        mode: entry.mode,
        uid: options.owner.uid,
        gid: options.owner.gid,
        size: 0,
        mtime: Math.floor(entry.mtime.getTime() / 1000),
      };
      if (entry.xattrs.size > 0) header.xattrs = entry.xattrs;
      if (linkTo !== undefined) {
        yield { header: { ...header, type: 'link', linkname: linkTo } };
        continue;
      }
      if (entry.kind === 'symlink') header.linkname = entry.linkTarget ?? '';
      if (entry.kind === 'char' || entry.kind === 'block') {
        header.devmajor = entry.major ?? 0;
        header.devminor = entry.minor ?? 0;
      }
      if (entry.kind === 'file') {
        let fd: number;
        try {
          fd = source.openFile(at);
        } catch (error) {
          const code = errorCode(error);
          if (options.ignoreUnreadable === true && (code === 'EACCES' || code === 'EPERM')) continue;
          throw error;
        }
        yield { header: { ...header, size: fstatSync(fd).size }, fd };
        continue;
      }
      yield { header };
    }
  }
  return tarStream(items());
}
