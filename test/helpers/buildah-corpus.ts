/**
 * buildah's side of the corpus, built once per entry and reused: both
 * test/corpus/buildah.test.ts (buildah against the entries' Docker
 * semantics) and test/integration/build-differential.test.ts (hutch against
 * buildah) read an entry's buildah image from here.
 *
 * An outcome (status, the end of the output, the image's config and root file
 * system, and the small text files that differ from the busybox base) is
 * cached in ~/.cache/hutch-test/buildah-corpus/, keyed on the entry's prepared
 * context, what it asks of a build (expectations.json without the config and
 * files that are checked afterwards), the base images it uses and buildah's
 * version. A fresh machine builds every entry once; a rerun none
 * (HUTCH_BUILDAH_CACHE=0 builds them all again, writing nothing).
 *
 * An entry is built under a lock file next to its cache file, so that two
 * test files (or two checkouts of the same user) running at once never build
 * it twice: while another process builds an entry, this one builds others and
 * comes back to read it.
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  closeSync,
  lstatSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import {
  buildah as buildahTool,
  entryArgs,
  prepareContext,
  readImage,
  type Buildah,
  type BuiltImage,
  type CorpusEntry,
} from './differential.js';
import { busyboxRootfsTar, debianRootfsTar, fileSha256, fixtureCache, readTarTree, type TreeEntry } from './images.js';

/** Bump when what is cached, or how it is made, changes. */
const CACHE_VERSION = 2;
export const buildahCacheDir = join(fixtureCache, 'buildah-corpus');
const useCache = (process.env.HUTCH_BUILDAH_CACHE ?? process.env.HUTCH_DIFF_BUILDAH_CACHE) !== '0';

/** What buildah made of an entry. */
export interface BuildahSide {
  ok: boolean;
  status: number | null;
  /** The end of buildah's output (the last 8000 characters when cached). */
  output: string;
  ms: number;
  image?: BuiltImage;
  /** Small printable files (4 KiB at most) that are new or differ from the busybox base, by path; not for Debian entries. */
  texts?: Record<string, string>;
  /** The outcome came from the cache. */
  cached: boolean;
  /** How long saving and reading the image took. */
  readMs?: number;
}

interface Cached {
  ok: boolean;
  status: number | null;
  output: string;
  ms: number;
  image?: { config: BuiltImage['config']; rootfs: [string, TreeEntry][] };
  texts?: Record<string, string>;
}

/** Where buildah finds the base images (a registry serving library/busybox and library/debian) and ADD's files. */
export interface CorpusServers {
  registryHost: string;
  filesUrl: string;
}

export interface BuildahCorpusOptions {
  /** A directory for contexts and archives; the caller removes it. */
  scratch: string;
  /** A sandbox's environment: debianRootfsTar makes the Debian tar through its session the first time. */
  env: NodeJS.ProcessEnv;
  /** Called at the first entry that must be built (never when every entry is cached). */
  servers: () => Promise<CorpusServers>;
}

export interface BuildahCorpus {
  /** buildah's outcome for each entry by name, `jobs` builds at a time. */
  sides(entries: readonly CorpusEntry[], jobs: number): Promise<Map<string, BuildahSide>>;
  /** buildah's outcome for one entry. */
  side(entry: CorpusEntry): Promise<BuildahSide>;
  /** The buildah instances' storage. */
  dispose(): Promise<void>;
}

/** A context directory's content, as a hash: names, types, modes, file contents, link targets. */
export function hashTree(dir: string): string {
  const hash = createHash('sha256');
  const walk = (rel: string) => {
    for (const name of readdirSync(join(dir, rel)).sort()) {
      const path = join(rel, name);
      const st = lstatSync(join(dir, path));
      hash.update(`${path}\0${st.mode.toString(8)}\0`);
      if (st.isSymbolicLink()) hash.update(`link:${readlinkSync(join(dir, path))}\0`);
      else if (st.isFile()) hash.update(readFileSync(join(dir, path)));
      else if (st.isDirectory()) walk(path);
      hash.update('\0');
    }
  };
  walk('.');
  return hash.digest('hex');
}

function readCache(file: string): BuildahSide | undefined {
  if (!useCache) return undefined;
  try {
    const c = JSON.parse(readFileSync(file, 'utf8')) as Cached;
    return {
      ok: c.ok,
      status: c.status,
      output: c.output,
      ms: c.ms,
      cached: true,
      ...(c.image === undefined ? {} : { image: { config: c.image.config, rootfs: new Map(c.image.rootfs) } }),
      ...(c.texts === undefined ? {} : { texts: c.texts }),
    };
  } catch {
    return undefined;
  }
}

function writeCache(file: string, side: BuildahSide): void {
  if (!useCache) return;
  const c: Cached = {
    ok: side.ok,
    status: side.status,
    output: side.output.slice(-8000),
    ms: side.ms,
    ...(side.image === undefined ? {} : { image: { config: side.image.config, rootfs: [...side.image.rootfs] } }),
    ...(side.texts === undefined ? {} : { texts: side.texts }),
  };
  const temp = `${file}.${process.pid}.tmp`;
  writeFileSync(temp, JSON.stringify(c));
  renameSync(temp, file);
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Takes `lock` (a file holding the owner's pid), taking over one whose owner is gone; false if another process holds it. */
function tryLock(lock: string): boolean {
  for (;;) {
    try {
      const fd = openSync(lock, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    let owner = NaN;
    let age = 0;
    try {
      owner = Number(readFileSync(lock, 'utf8'));
      age = Date.now() - statSync(lock).mtimeMs;
    } catch {
      continue; // released meanwhile
    }
    // An empty file is a lock being written. A build takes 10 minutes at most (buildah's timeout): an older lock
    // is left over, even if its pid has been given to another process since.
    if (age < 15 * 60_000 && (owner === 0 || alive(owner))) return false;
    rmSync(lock, { force: true });
  }
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function buildahCorpus(options: BuildahCorpusOptions): BuildahCorpus {
  const version = spawnSync('buildah', ['--version'], { encoding: 'utf8' }).stdout.trim();
  const free: Buildah[] = [];
  const all: Buildah[] = [];
  let servers: Promise<CorpusServers> | undefined;
  let busybox: Promise<{ key: string; tree: Map<string, TreeEntry> }> | undefined;
  let debianKey: string | undefined;
  const contexts = new Map<string, string>();
  mkdirSync(buildahCacheDir, { recursive: true });

  /** The entry's context, prepared once, apart from the caller's (which it may rebuild while this one is read). */
  const contextOf = (entry: CorpusEntry): string => {
    let dir = contexts.get(entry.name);
    if (dir === undefined)
      contexts.set(entry.name, (dir = prepareContext(entry, join(options.scratch, 'buildah-contexts'))));
    return dir;
  };

  const base = () =>
    (busybox ??= (async () => {
      const tar = await busyboxRootfsTar();
      return { key: `busybox ${fileSha256(tar)}`, tree: await readTarTree(tar) };
    })());

  const keyOf = async (entry: CorpusEntry, context: string): Promise<string> => {
    const { covers: _covers, files: _files, config: _config, ...how } = entry.expect;
    let bases = (await base()).key;
    if (entry.expect.debian === true) bases += ` debian ${(debianKey ??= fileSha256(debianRootfsTar(options.env)))}`;
    return createHash('sha256')
      .update(JSON.stringify([CACHE_VERSION, version, bases, entry.name, how, hashTree(context)]))
      .digest('hex');
  };

  /** Small printable files of the image that the busybox base does not have as they are. */
  const textsOf = (image: BuiltImage, contents: Map<string, Buffer>, tree: Map<string, TreeEntry>) => {
    const texts: Record<string, string> = {};
    const fields = ['type', 'mode', 'uid', 'gid', 'sha256', 'link'] as const;
    for (const [path, content] of contents) {
      const e = image.rootfs.get(path);
      const b = tree.get(path.slice(1));
      if (e === undefined || (b !== undefined && fields.every((f) => b[f] === e[f]))) continue;
      const text = content.toString('utf8');
      if (/^[\t\n\x20-\x7e]*$/.test(text)) texts[path] = text;
    }
    return texts;
  };

  const build = async (entry: CorpusEntry, context: string): Promise<BuildahSide> => {
    const where = await (servers ??= options.servers());
    const tool = free.pop() ?? buildahTool({ ...process.env }, where.registryHost);
    if (!all.includes(tool)) all.push(tool);
    try {
      const args = entryArgs(entry, context, where.registryHost, where.filesUrl);
      const outcome = await tool.build(context, args);
      const side: BuildahSide = {
        ok: outcome.ok,
        status: outcome.status,
        output: outcome.output,
        ms: outcome.ms,
        cached: false,
      };
      if (outcome.ok && outcome.image !== undefined) {
        const reading = Date.now();
        const contents = new Map<string, Buffer>();
        side.image = await readImage(tool, outcome.image, options.scratch, contents);
        side.readMs = Date.now() - reading;
        if (entry.expect.debian !== true) side.texts = textsOf(side.image, contents, (await base()).tree);
        // buildah's vfs copies whole trees per layer: free them now.
        await tool.run(['rmi', '--force', args.tag]);
      }
      return side;
    } finally {
      free.push(tool);
    }
  };

  /** The entry's outcome if it is cached or this process may build it now; undefined while another builds it. */
  const attempt = async (entry: CorpusEntry): Promise<BuildahSide | undefined> => {
    const context = contextOf(entry);
    const file = join(buildahCacheDir, `${await keyOf(entry, context)}.json`);
    const cached = readCache(file);
    if (cached !== undefined) return cached;
    const lock = `${file}.lock`;
    if (useCache && !tryLock(lock)) return undefined;
    try {
      // Built by another process between the read and the lock?
      const again = readCache(file);
      if (again !== undefined) return again;
      const side = await build(entry, context).catch((error: Error): BuildahSide => ({
        ok: false,
        status: null,
        output: `harness: ${error.message}`,
        ms: 0,
        cached: false,
      }));
      if (side.status !== null) writeCache(file, side);
      return side;
    } finally {
      if (useCache) rmSync(lock, { force: true });
    }
  };

  const side = async (entry: CorpusEntry): Promise<BuildahSide> => {
    for (;;) {
      const got = await attempt(entry);
      if (got !== undefined) return got;
      await pause(500);
    }
  };

  return {
    side,
    async sides(entries, jobs) {
      const out = new Map<string, BuildahSide>();
      const queue = [...entries];
      /** Entries another process was building when their turn came: read (or built) after the rest. */
      const deferred: CorpusEntry[] = [];
      await Promise.all(
        Array.from({ length: Math.max(1, jobs) }, async () => {
          for (let entry = queue.shift(); entry !== undefined; entry = queue.shift()) {
            const got = await attempt(entry);
            if (got === undefined) deferred.push(entry);
            else out.set(entry.name, got);
          }
          for (let entry = deferred.shift(); entry !== undefined; entry = deferred.shift()) {
            out.set(entry.name, await side(entry));
          }
        }),
      );
      return new Map(entries.map((e) => [e.name, out.get(e.name) as BuildahSide]));
    },
    async dispose() {
      for (const tool of all) await tool.dispose();
    },
  };
}
