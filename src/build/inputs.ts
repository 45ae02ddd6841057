/**
 * What a build reads before its first step, as podman build finds it: the
 * context directory and the Containerfiles.
 *
 * - The context is the directory given; `-` reads standard input to its end,
 *   unpacks it when it is a tar archive (plain, gzip, bzip2, xz or zstd) and
 *   otherwise takes it as the Containerfile of an empty context (buildah's
 *   stdinToDirectory); no context at all is the directory of the first -f file.
 * - Each -f path is taken relative to the working directory, and when nothing
 *   is there, relative to the context; `-` is standard input. Without -f:
 *   CONTEXT/Containerfile, else CONTEXT/Dockerfile.
 *
 * Errors are podman's words (`stat PATH: no such file or directory`, `context
 * must be a directory: "PATH"`), so scripts that match them keep working.
 */
import { mkdirSync, readFileSync, rmSync, statSync, writeFileSync, type Stats } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { Readable } from 'node:stream';
import { getSystemErrorMap } from 'node:util';
import { HutchError } from '../errors.js';
import { createTempDir, type TempEntry } from '../fs/lock.js';
import { archiveKind, unpackArchive } from './steps/add.js';

export interface ContainerfileText {
  text: string;
  /** The name errors give it. */
  name: string;
  /** Its path; undefined for standard input. */
  path: string | undefined;
}

export interface BuildInputs {
  /** The context directory, absolute. */
  contextDir: string;
  containerfiles: ContainerfileText[];
  /** Removes what standard input was unpacked into; idempotent. */
  release(): void;
}

export interface InputOptions {
  contextDir: string | undefined;
  files: string[];
  stdin: Readable;
  /** Where a context read from standard input is unpacked (the store's tmp/, flocked while in use). */
  tmpDir: string;
  /** Overlay metadata in user.* xattrs (rootless), for the unpacker. */
  userXattrs: boolean;
  storageDir: string;
  env?: NodeJS.ProcessEnv;
}

/** Go's error text for an errno error (`no such file or directory`), as podman prints it. */
function goReason(error: unknown): string {
  const errno = (error as NodeJS.ErrnoException).errno;
  return (errno === undefined ? undefined : getSystemErrorMap().get(errno)?.[1]) ?? (error as Error).message;
}

function statOrUndefined(path: string): Stats | undefined {
  try {
    return statSync(path);
  } catch {
    return undefined;
  }
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer));
  return Buffer.concat(chunks);
}

/** Standard input as a context: an archive unpacked, or a Containerfile alone. */
async function contextFromStdin(data: Buffer, options: InputOptions): Promise<{ dir: string; temp: TempEntry }> {
  const temp = createTempDir(options.tmpDir, 'context-');
  try {
    const dir = join(temp.path, 'context');
    const received = join(temp.path, 'stdin');
    writeFileSync(received, data, { mode: 0o600 });
    const kind = await archiveKind(received);
    if (kind === undefined) {
      mkdirSync(dir, { mode: 0o700 });
      writeFileSync(join(dir, 'Dockerfile'), data, { mode: 0o600 });
    } else {
      await unpackArchive(received, kind.compression, dir, {
        userXattrs: options.userXattrs,
        storageDir: options.storageDir,
        ...(options.env === undefined ? {} : { env: options.env }),
      });
    }
    rmSync(received);
    return { dir, temp };
  } catch (error) {
    rmSync(temp.path, { recursive: true, force: true });
    temp.release();
    throw error;
  }
}

const isUrl = (file: string) => /^(https?|git):\/\//.test(file) || file.startsWith('github.com/');

export async function readBuildInputs(options: InputOptions): Promise<BuildInputs> {
  const files = [...options.files];
  if (options.contextDir === '-' && files.includes('-')) {
    throw new HutchError('the context and the Containerfile cannot both come from standard input', {
      hint: 'give the Containerfile with -f PATH, or the context as a directory',
    });
  }
  if (files.some(isUrl)) {
    throw new HutchError('a Containerfile from a URL is not supported by hutch build yet', {
      hint: 'download it first and give its path with -f',
    });
  }
  let stdinContext: { dir: string; temp: TempEntry } | undefined;
  const release = () => {
    if (stdinContext === undefined) return;
    rmSync(stdinContext.temp.path, { recursive: true, force: true });
    stdinContext.temp.release();
    stdinContext = undefined;
  };
  try {
    let contextDir: string;
    if (options.contextDir === '-') {
      stdinContext = await contextFromStdin(await readAll(options.stdin), options);
      contextDir = stdinContext.dir;
    } else if (options.contextDir !== undefined) {
      if (isUrl(options.contextDir)) {
        throw new HutchError('a build context from a URL is not supported by hutch build yet', {
          hint: 'download or clone it first and give its directory',
        });
      }
      contextDir = resolve(options.contextDir);
    } else {
      // podman's rule: without a context, the directory of the first Containerfile that is a file.
      const first = files.findIndex((f) => f !== '-');
      if (first < 0) throw new HutchError('no context directory and no Containerfile specified');
      files[first] = resolve(files[first] as string);
      contextDir = dirname(files[first] as string);
    }
    if (statOrUndefined(contextDir)?.isDirectory() !== true) {
      throw new HutchError(`context must be a directory: ${JSON.stringify(contextDir)}`);
    }
    if (files.length === 0) {
      const containerfile = join(contextDir, 'Containerfile');
      files.push(statOrUndefined(containerfile) === undefined ? join(contextDir, 'Dockerfile') : containerfile);
    }
    const containerfiles: ContainerfileText[] = [];
    for (const file of files) {
      if (file === '-') {
        containerfiles.push({
          text: (await readAll(options.stdin)).toString('utf8'),
          name: 'Containerfile',
          path: undefined,
        });
        continue;
      }
      containerfiles.push(readContainerfile(file, contextDir));
    }
    return { contextDir, containerfiles, release };
  } catch (error) {
    release();
    throw error;
  }
}

/** A -f path: as given (relative to the working directory), else relative to the context. */
function readContainerfile(file: string, contextDir: string): ContainerfileText {
  let path = file;
  let stats: Stats;
  try {
    stats = statSync(path);
  } catch (error) {
    if (path.startsWith(contextDir)) throw new HutchError(`stat ${path}: ${goReason(error)}`);
    path = join(contextDir, file);
    try {
      stats = statSync(path);
    } catch (again) {
      throw new HutchError(`stat ${path}: ${goReason(again)}`, {
        hint: 'a relative -f path is looked up in the working directory, then in the context directory',
      });
    }
  }
  if (stats.isDirectory()) {
    throw new HutchError(`containerfile: ${JSON.stringify(file)} cannot be path to a directory`, {
      hint: 'name the file itself: -f DIR/Containerfile',
    });
  }
  try {
    return { text: readFileSync(path, 'utf8'), name: path, path: resolve(path) };
  } catch (error) {
    throw new HutchError(`open ${path}: ${goReason(error)}`);
  }
}
