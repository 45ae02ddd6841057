/**
 * COPY and ADD. The step (copyStep): sources resolved in the context or in
 * another stage or image (COPY --from), URLs downloaded and local archives
 * unpacked (add.ts), heredoc sources, a cache key from the content hash of
 * all of it, then the step rootfs mounted and written.
 *
 * Writing (copyIntoRoot): what the sources matched, written below the
 * destination with Docker's rules. The destination is resolved inside the
 * rootfs (its symlinks followed there, never on the host, through openat2
 * RESOLVE_IN_ROOT); missing directories are created 0755. New files and
 * directories belong to root unless --chown, or keep their owners when they
 * come from another stage, an image or an archive (buildah's rule); modes and
 * mtimes come from the source, or --chmod. Files with several names among what
 * one COPY reads are copied once and linked (Docker keeps hard links).
 */
import {
  chmodSync,
  copyFileSync,
  lchownSync,
  linkSync,
  lstatSync,
  lutimesSync,
  mkdirSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join, posix } from 'node:path';
import type { Position } from '../containerfile/ast.js';
import { BuildfileError } from '../containerfile/parser.js';
import { BuildContext } from '../context.js';
import { checkDestination, type CopyEntry, type CopySource, type SourceRef } from '../sources.js';
import type { AddInstruction, CopyInstruction } from '../containerfile/instructions.js';
import { resolveWorkdir } from '../containerfile/resolve.js';
import { isGitUrl, isHttpUrl } from '../containerfile/values.js';
import { copyCreatedBy } from '../history.js';
import { sha256 } from '../state.js';
import { layerPaths, StepWorkspace } from '../workspace.js';
import { HutchError, messageOf } from '../../errors.js';
import { archiveKind, ChecksumError, download, unpackArchive } from './add.js';
import { describe, type Resolved, type StepContext } from './step.js';
import { ensureInRoot, hostJoin, locateInRoot, realRoot } from '../../fs/in-root.js';

export interface Owner {
  uid: number;
  gid: number;
}

/** One thing to put under the destination. */
export type CopyItem =
  | {
      kind: 'tree';
      name: string;
      type: CopyEntry['type'];
      entries: CopyEntry[];
      /** Keep the entries' owners (another stage, an image, an archive); else root, as Docker. */
      keepOwners: boolean;
    }
  | { kind: 'content'; name: string; content: string | Buffer; mode: number; mtime: Date };

export interface CopyRequest {
  instruction: 'COPY' | 'ADD';
  file: string;
  position: Position;
  /** The destination as written (expanded), and the working directory it is relative to. */
  dest: string;
  workdir: string;
  items: CopyItem[];
  /** --chown; undefined: root, or the source's owner for items that keep owners. */
  owner: Owner | undefined;
  /** --chmod bits. */
  mode: number | undefined;
}

/** --chown=user[:group]: names looked up in the image's /etc/passwd and /etc/group, or numbers; a user alone gives gid = uid. */
function parseChown(stage: StepContext, spec: string, position: Position): Owner {
  const [userPart = '', groupPart] = spec.split(':', 2);
  const files = stage.accountFiles();
  const fail = (what: string): never => {
    throw new BuildfileError(
      stage.file,
      position,
      `--chown=${spec}: no ${what} in the image's /etc/${what === 'user' ? 'passwd' : 'group'}`,
      {
        hint: 'create it in an earlier step, or give numeric ids (--chown=1000:1000)',
      },
    );
  };
  let uid: number;
  if (/^\d+$/.test(userPart)) uid = Number(userPart);
  else {
    const line = (files.passwd ?? '').split('\n').find((l) => l.split(':')[0] === userPart);
    if (line === undefined) fail('user');
    uid = Number((line as string).split(':')[2]);
  }
  if (groupPart === undefined || groupPart === '') return { uid, gid: uid };
  if (/^\d+$/.test(groupPart)) return { uid, gid: Number(groupPart) };
  const line = (files.group ?? '').split('\n').find((l) => l.split(':')[0] === groupPart);
  if (line === undefined) fail('group');
  return { uid, gid: Number((line as string).split(':')[2]) };
}

/** The COPY or ADD step: what it reads, its cache key, then the layer it writes (or the cached one). */
export async function copyStep(
  stage: StepContext,
  resolved: Resolved<'COPY'> | Resolved<'ADD'>,
  instruction: CopyInstruction | AddInstruction,
): Promise<void> {
  const { session } = stage;
  const kind = resolved.kind;
  const position = resolved.node.position;
  const refs: SourceRef[] = resolved.sources.map((source, i) => ({
    source,
    position: instruction.sources[i]?.position ?? position,
  }));
  if (kind === 'COPY' && resolved.parents) {
    throw new BuildfileError(stage.file, position, 'COPY --parents is not supported by hutch build');
  }
  const urls = refs.filter((r) => kind === 'ADD' && isHttpUrl(r.source));
  for (const ref of refs) {
    if (kind === 'ADD' && isGitUrl(ref.source)) {
      throw new BuildfileError(
        stage.file,
        ref.position,
        `ADD ${ref.source}: adding a git repository is not supported by hutch build`,
        {
          hint: 'clone it into the context and COPY it',
        },
      );
    }
  }
  const checksum = kind === 'ADD' ? resolved.checksum : undefined;
  if (checksum !== undefined && urls.length !== refs.length) {
    throw new BuildfileError(stage.file, position, 'ADD --checksum can only be used with http(s) sources');
  }
  if (resolved.chmod !== undefined && !/^[0-7]+$/.test(resolved.chmod)) {
    throw new BuildfileError(
      stage.file,
      position,
      `--chmod=${resolved.chmod}: symbolic modes are not supported by hutch build`,
      {
        hint: 'give an octal mode, e.g. --chmod=0755',
      },
    );
  }
  const from = kind === 'COPY' ? resolved.from : undefined;
  const locals = refs.filter((r) => !urls.includes(r));
  const workspace = StepWorkspace.create(
    session.store,
    session.driver,
    session.rootless,
    resolved.link ? [] : stage.lowers,
  );
  let source: StepWorkspace | undefined;
  try {
    let tree: BuildContext = session.context;
    let fromKey = '';
    if (from !== undefined) {
      const found = await stage.fromSource(from, (instruction as CopyInstruction).from?.position ?? position);
      fromKey = found.key;
      source = StepWorkspace.create(
        session.store,
        session.driver,
        session.rootless,
        layerPaths(session.store, found.layers),
      );
      tree = await BuildContext.openTree(await source.mount({ readonly: true }));
    }
    const sources: CopySource[] =
      locals.length === 0
        ? []
        : await tree.resolveSources(locals, {
            file: stage.file,
            instruction: kind,
            excludes: resolved.excludes,
            wildcards: true,
          });
    checkDestination(
      stage.file,
      kind,
      sources,
      { text: resolved.dest, position: instruction.dest.position },
      {
        inlineCount: resolved.inline.length + urls.length,
      },
    );
    const items: CopyItem[] = [];
    const hashParts: string[] = [];
    for (const [i, ref] of urls.entries()) {
      let got;
      try {
        got = await download(ref.source, join(workspace.dir, `download-${i}`), checksum);
      } catch (error) {
        throw new BuildfileError(stage.file, ref.position, `ADD ${ref.source}: ${messageOf(error)}`, {
          hint:
            error instanceof ChecksumError
              ? 'check the --checksum value (sha256:HEX of the file)'
              : error instanceof HutchError
                ? error.hint
                : undefined,
          cause: error,
        });
      }
      hashParts.push(`url ${ref.source} ${got.digest}`);
      const mtimeMs = got.mtime.getTime();
      items.push({
        kind: 'tree',
        name: got.name,
        type: 'file',
        keepOwners: false,
        entries: [
          {
            rel: '.',
            path: got.name,
            absolute: got.path,
            type: 'file',
            mode: 0o600,
            size: 0,
            uid: 0,
            gid: 0,
            mtimeMs,
            inode: '',
            nlink: 1,
          },
        ],
      });
    }
    hashParts.push(
      from === undefined
        ? await session.context.hashSources(sources)
        : `${fromKey} ${JSON.stringify(sources.map((s) => s.path))}`,
    );
    for (const inline of resolved.inline) hashParts.push(`inline ${inline.name} ${sha256(inline.content)}`);
    const destPath = resolveWorkdir(stage.state.runtime.WorkingDir ?? '/', resolved.dest);
    const key = sha256(
      [stage.state.chainKey, kind, describe(resolved), ...hashParts, stage.state.runtime.WorkingDir ?? '/'].join('\n'),
    );
    const what =
      sources.length + urls.length + resolved.inline.length > 1
        ? 'multi'
        : sources[0]?.type === 'directory'
          ? 'dir'
          : 'file';
    const createdBy = copyCreatedBy(kind, what, sha256(hashParts.join('\n')), destPath);
    const hit = await stage.cached(key);
    if (hit?.layer !== undefined) return stage.finishStep(key, createdBy, hit.layer, hit);

    for (const [i, s] of sources.entries()) {
      let archive;
      try {
        archive =
          kind === 'ADD' && s.type === 'file' && resolved.unpack !== false
            ? await archiveKind(s.entries[0]?.absolute as string)
            : undefined;
      } catch (error) {
        // bzip2 or xz without its program: the step's line, and the hint to install it.
        throw new BuildfileError(stage.file, position, `ADD ${s.source}: ${messageOf(error)}`, {
          ...(error instanceof HutchError && error.hint !== undefined ? { hint: error.hint } : {}),
        });
      }
      if (archive?.kind === 'tar') {
        const dir = join(workspace.dir, `archive-${i}`);
        try {
          await unpackArchive(s.entries[0]?.absolute as string, archive.compression, dir, {
            userXattrs: session.rootless,
            storageDir: session.store.storageDir,
          });
        } catch (error) {
          // The disk reserve's hint (free space, or lower the reserve) comes along.
          throw new BuildfileError(stage.file, position, `ADD ${s.source}: ${messageOf(error)}`, {
            ...(error instanceof HutchError && error.hint !== undefined ? { hint: error.hint } : {}),
          });
        }
        const unpacked = await BuildContext.openTree(dir);
        const [all] = await unpacked.resolveSources([{ source: '.', position }], {
          file: stage.file,
          instruction: kind,
        });
        items.push({
          kind: 'tree',
          name: s.name,
          type: 'directory',
          keepOwners: true,
          entries: (all as CopySource).entries.filter((e) => e.rel !== '.'),
        });
        continue;
      }
      items.push({ kind: 'tree', name: s.name, type: s.type, keepOwners: from !== undefined, entries: s.entries });
    }
    const mtime = session.options.timestamp ?? new Date();
    for (const inline of resolved.inline) {
      items.push({ kind: 'content', name: inline.name, content: inline.content, mode: 0o644, mtime });
    }
    const owner = resolved.chown === undefined ? undefined : parseChown(stage, resolved.chown, position);
    const root = await workspace.mount();
    copyIntoRoot(root, {
      instruction: kind,
      file: stage.file,
      position: instruction.dest.position,
      dest: resolved.dest,
      workdir: stage.state.runtime.WorkingDir ?? '/',
      items,
      owner,
      mode: resolved.chmod === undefined ? undefined : parseInt(resolved.chmod, 8),
    });
    await workspace.unmount();
    const layer = await workspace.commit(session.store, session.options.timestamp);
    stage.finishStep(key, createdBy, { diffId: layer.diffId, blob: layer.blob }, undefined);
  } finally {
    await source?.dispose();
    await workspace.dispose();
  }
}

// ---------------------------------------------------------------------------
// Writing into the step's rootfs.

/** Writes the items into root (a mounted rootfs). Throws BuildfileError for a destination that cannot take them. */
export function copyIntoRoot(root: string, request: CopyRequest): void {
  const fail = (reason: string): never => {
    throw new BuildfileError(request.file, request.position, `${request.instruction}: ${reason}`);
  };
  const writer = new RootWriter(root, request, fail);
  const destPath = posix.resolve('/', request.workdir || '/', request.dest);
  const trailing = /(^|\/)\.?$/.test(request.dest) || request.dest.endsWith('/');
  let existingDir = false;
  try {
    existingDir = locateInRoot(root, destPath).stat?.isDirectory() === true;
  } catch {
    // A destination that does not resolve (a symlink loop, a file on the way) is
    // no directory to copy into; the writer reports why when it gets there.
    existingDir = false;
  }
  const intoDir = trailing || existingDir || request.items.length > 1;
  for (const item of request.items) {
    if (item.kind === 'content') {
      const target = intoDir ? posix.join(destPath, item.name) : destPath;
      writer.content(target, item);
      continue;
    }
    if (item.type === 'directory') {
      writer.tree(destPath, item.entries, item.keepOwners);
      continue;
    }
    const target = intoDir ? posix.join(destPath, item.name) : destPath;
    writer.tree(target, item.entries, item.keepOwners);
  }
  writer.finish();
}

class RootWriter {
  private readonly real: string;
  private readonly dirs = new Map<string, string>();
  /** Directories whose mtime to set once everything below them is written (writing changes it). */
  private readonly touch: { host: string; mtime: Date }[] = [];
  /** The first copy of each source file with several names, by `dev:ino`: its other names become hard links to it. */
  private readonly links = new Map<string, string>();

  constructor(
    private readonly root: string,
    private readonly request: CopyRequest,
    private readonly fail: (reason: string) => never,
  ) {
    this.real = realRoot(root);
  }

  /** The host path of a directory of the rootfs, created (0755, owned by --chown or root) when missing. */
  private dir(treeDir: string): string {
    const known = this.dirs.get(treeDir);
    if (known !== undefined) return known;
    let ensured;
    try {
      ensured = ensureInRoot(this.root, treeDir, 'directory', { what: `destination ${treeDir}` });
    } catch (error) {
      this.fail((error as Error).message);
    }
    const owner = this.request.owner ?? { uid: 0, gid: 0 };
    for (const created of ensured.created) lchownSync(hostJoin(this.real, created), owner.uid, owner.gid);
    const host = hostJoin(this.real, ensured.path);
    this.dirs.set(treeDir, host);
    return host;
  }

  private place(treePath: string): { host: string; existing: ReturnType<typeof lstatSync> | undefined } {
    const parent = this.dir(posix.dirname(treePath));
    const host = join(parent, posix.basename(treePath));
    return { host, existing: lstatSync(host, { throwIfNoEntry: false }) };
  }

  private clear(host: string, existing: ReturnType<typeof lstatSync> | undefined, treePath: string): void {
    if (existing === undefined) return;
    if (existing.isDirectory()) this.fail(`cannot replace directory ${treePath} with a non-directory`);
    unlinkSync(host);
  }

  private ownerOf(entry: { uid: number; gid: number }, keepOwners: boolean): Owner {
    if (this.request.owner !== undefined) return this.request.owner;
    return keepOwners ? { uid: entry.uid, gid: entry.gid } : { uid: 0, gid: 0 };
  }

  tree(target: string, entries: readonly CopyEntry[], keepOwners: boolean): void {
    for (const entry of entries) {
      const treePath = entry.rel === '.' ? target : posix.join(target, entry.rel);
      const owner = this.ownerOf(entry, keepOwners);
      // A directory source's contents go into the destination, which, when it
      // has to be made, is made 0755 as its parents are (buildah; --chmod is
      // for what is copied).
      const top = entry.rel === '.' && entry.type === 'directory';
      const mode = top ? 0o755 : (this.request.mode ?? entry.mode);
      const mtime = new Date(entry.mtimeMs);
      if (entry.type === 'directory') {
        if (treePath === '/') continue;
        const { host, existing } = this.place(treePath);
        if (existing !== undefined && !existing.isDirectory()) unlinkSync(host);
        // An existing directory keeps its owner and mode, as in Docker; a new one takes the source's.
        if (existing === undefined || !existing.isDirectory()) {
          mkdirSync(host);
          lchownSync(host, owner.uid, owner.gid);
          chmodSync(host, mode);
          this.touch.push({ host, mtime });
        }
        this.dirs.set(treePath, host);
        continue;
      }
      const { host, existing } = this.place(treePath);
      this.clear(host, existing, treePath);
      if (entry.type === 'file') {
        // Hard links among what one COPY reads stay hard links, as in Docker.
        const linked = entry.nlink > 1 && entry.inode !== '' ? this.links.get(entry.inode) : undefined;
        if (linked !== undefined) {
          linkSync(linked, host);
          continue;
        }
        copyFileSync(entry.absolute, host);
        lchownSync(host, owner.uid, owner.gid);
        chmodSync(host, mode);
        utimesSync(host, mtime, mtime);
        if (entry.nlink > 1 && entry.inode !== '') this.links.set(entry.inode, host);
      } else if (entry.type === 'symlink') {
        symlinkSync(entry.linkTarget ?? '', host);
        lchownSync(host, owner.uid, owner.gid);
        lutimesSync(host, mtime, mtime);
      } else {
        this.fail(`cannot copy ${entry.path}: copying a ${entry.type} is not supported`);
      }
    }
  }

  content(treePath: string, item: Extract<CopyItem, { kind: 'content' }>): void {
    const { host, existing } = this.place(treePath);
    this.clear(host, existing, treePath);
    const owner = this.request.owner ?? { uid: 0, gid: 0 };
    writeFileSync(host, item.content);
    lchownSync(host, owner.uid, owner.gid);
    chmodSync(host, this.request.mode ?? item.mode);
    utimesSync(host, item.mtime, item.mtime);
  }

  finish(): void {
    for (const { host, mtime } of this.touch.reverse()) utimesSync(host, mtime, mtime);
  }
}
