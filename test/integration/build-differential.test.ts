/**
 * The differential test of `hutch build` (issue 7's acceptance): every corpus
 * entry (test/corpus) built by hutch and by buildah (Debian's 1.28, rootless),
 * both images read back from docker-archives by the same harness
 * (test/helpers/differential.ts) and compared field by field: config (Env,
 * Cmd, Entrypoint, User, WorkingDir, ExposedPorts, Labels, Volumes,
 * StopSignal, Healthcheck, OnBuild, Shell, Author) and root file system
 * (path, type, mode, uid, gid, size, content hash, link target).
 *
 * What may differ is docs/build-differences.md, exactly: a difference it does
 * not list fails, and so does a row it lists that is no longer found. Where
 * buildah cannot build an entry (recorded there and in expectations.json),
 * hutch's image is checked against the entry's Docker semantics instead. Bad
 * entries: both refuse, hutch with one `Error:` line that carries the
 * expected message.
 *
 * Time: the builds run in beforeAll, HUTCH_DIFF_JOBS entries at a time
 * (default 2, each with a hutch store and a buildah storage of its own; an
 * entry's two builds run side by side). buildah's side is cached in
 * ~/.cache/hutch-test/buildah-corpus/, keyed on the entry's prepared context,
 * its expectations, the base images and buildah's version, so a fresh
 * machine runs every buildah build and a rerun only hutch's
 * (HUTCH_DIFF_BUILDAH_CACHE=0 turns the cache off). A summary goes to
 * $HUTCH_DIFF_RESULTS (default $TMPDIR/hutch-build-differential.json).
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  existsSync,
  lstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  readlinkSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildah as buildahTool,
  checkExpected,
  compareImages,
  entryArgs,
  formatDifferences,
  loadCorpus,
  prepareContext,
  publishImage,
  readImage,
  servedFiles,
  startFileServer,
  type Buildah,
  type BuildArgs,
  type BuildOutcome,
  type BuiltImage,
  type CorpusEntry,
  type Difference,
  type FileServer,
  type Tool,
} from '../helpers/differential.js';
import { judge, loadDifferences, problemWhere, type Outcome } from '../helpers/build-differences.js';
import { errorLines, hutchRun, sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar, debianRootfsTar, fileSha256, fixtureCache, type TreeEntry } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hutchBin, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const missingTools = ['buildah', 'skopeo', 'runc'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
if (missingTools.length > 0 && process.env.CI === 'true') {
  throw new Error(`missing prerequisite in CI: ${missingTools.join(', ')} (Debian packages)`);
}
if (missingTools.length > 0) console.warn(`skipping: ${missingTools.join(', ')} not installed`);
const skip = need.skip || needReg.skip || missingTools.length > 0;

// HUTCH_DIFF_ONLY=REGEX narrows the corpus while working on some entries; CI runs them all.
const only = process.env.CI === 'true' ? undefined : process.env.HUTCH_DIFF_ONLY;
const corpus = loadCorpus().filter((e) => only === undefined || new RegExp(only).test(e.name));
const known = loadDifferences();
const JOBS = Math.max(1, Number(process.env.HUTCH_DIFF_JOBS ?? 2));
const BUILD_TIMEOUT_MS = 10 * 60_000;
/** Bump when what is cached, or how it is made, changes. */
const CACHE_VERSION = 1;
const useCache = process.env.HUTCH_DIFF_BUILDAH_CACHE !== '0';
const cacheDir = join(fixtureCache, 'buildah-corpus');

/** What a tool made of an entry. */
interface Side {
  ok: boolean;
  status: number | null;
  output: string;
  ms: number;
  image?: BuiltImage;
  /** For buildah: the result came from the cache. */
  cached?: boolean;
  /** How long saving and reading the image took. */
  readMs?: number;
}

interface Result {
  entry: CorpusEntry;
  hutch: Side;
  buildah: Side;
}

/** Runs bin/hutch in a sandbox, killed (with its process group) after timeoutMs. */
function runHutch(
  args: string[],
  box: Sandbox,
  timeoutMs = BUILD_TIMEOUT_MS,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(hutchBin, args, { env: box.env, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout.length < 4 << 20 ? (stdout += d.toString()) : undefined));
    child.stderr.on('data', (d: Buffer) => (stderr.length < 4 << 20 ? (stderr += d.toString()) : undefined));
    const timer = setTimeout(() => {
      stderr += `\nharness: killed after ${timeoutMs} ms`;
      if (child.pid !== undefined) process.kill(-child.pid, 'SIGKILL');
    }, timeoutMs);
    child.once('error', reject);
    child.once('close', (status) => {
      clearTimeout(timer);
      resolvePromise({ status, stdout, stderr });
    });
  });
}

/** hutch as a Tool of the harness: `hutch build` and `hutch save` in a sandbox's store. */
function hutchTool(box: Sandbox): Tool {
  return {
    name: 'hutch',
    async build(dir: string, args: BuildArgs): Promise<BuildOutcome> {
      const started = Date.now();
      const argv = ['build', '--format', 'docker', '-t', args.tag, '-f', join(dir, args.file ?? 'Containerfile')];
      for (const [k, v] of Object.entries(args.buildArgs ?? {})) argv.push('--build-arg', `${k}=${v}`);
      if (args.target !== undefined) argv.push('--target', args.target);
      for (const [id, src] of Object.entries(args.secrets ?? {})) argv.push('--secret', `id=${id},src=${src}`);
      argv.push(dir);
      const result = await runHutch(argv, box);
      return {
        ok: result.status === 0,
        status: result.status,
        output: `${result.stdout}\n${result.stderr}`,
        ms: Date.now() - started,
        ...(result.status === 0 ? { image: args.tag } : {}),
      };
    },
    async save(image: string, path: string): Promise<void> {
      const result = await runHutch(['save', '-q', '--format', 'docker-archive', '-o', path, image], box);
      if (result.status !== 0) throw new Error(`hutch save ${image} failed: ${result.stderr}`);
    },
  };
}

/** A context directory's content, as a hash: names, types, modes, file contents, link targets. */
function hashTree(dir: string): string {
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

interface CachedSide {
  ok: boolean;
  status: number | null;
  output: string;
  ms: number;
  image?: { config: BuiltImage['config']; rootfs: [string, TreeEntry][] };
}

function readCache(key: string): Side | undefined {
  if (!useCache) return undefined;
  try {
    const c = JSON.parse(readFileSync(join(cacheDir, `${key}.json`), 'utf8')) as CachedSide;
    return {
      ok: c.ok,
      status: c.status,
      output: c.output,
      ms: c.ms,
      cached: true,
      ...(c.image === undefined ? {} : { image: { config: c.image.config, rootfs: new Map(c.image.rootfs) } }),
    };
  } catch {
    return undefined;
  }
}

function writeCache(key: string, side: Side): void {
  if (!useCache) return;
  mkdirSync(cacheDir, { recursive: true });
  const c: CachedSide = {
    ok: side.ok,
    status: side.status,
    output: side.output.slice(-8000),
    ms: side.ms,
    ...(side.image === undefined ? {} : { image: { config: side.image.config, rootfs: [...side.image.rootfs] } }),
  };
  const temp = join(cacheDir, `${key}.${process.pid}.tmp`);
  writeFileSync(temp, JSON.stringify(c));
  renameSync(temp, join(cacheDir, `${key}.json`));
}

/** Runs `work` over `items`, `jobs` at a time, each job with a slot of its own. */
async function pool<T, S>(items: readonly T[], slots: readonly S[], work: (item: T, slot: S) => Promise<void>) {
  let next = 0;
  await Promise.all(
    slots.map(async (slot) => {
      while (next < items.length) {
        const item = items[next++] as T;
        await work(item, slot);
      }
    }),
  );
}

/** What the page says each tool does with an entry. */
function expectedOutcome(entry: CorpusEntry): { hutch: Outcome; buildah: Outcome; reason?: string } {
  const listed = known.outcomes.find((o) => o.entry === entry.name);
  if (listed !== undefined) return listed;
  return entry.bad ? { hutch: 'refuses', buildah: 'refuses' } : { hutch: 'builds', buildah: 'builds' };
}

const tail = (text: string, lines = 25) => text.trim().split('\n').slice(-lines).join('\n');

describe.skipIf(skip)('hutch build against buildah bud, entry by entry', () => {
  const results = new Map<string, Result>();
  let registry: TestRegistry;
  let files: FileServer;
  let scratch: string;
  const boxes: Sandbox[] = [];
  const buildahs: Buildah[] = [];

  beforeAll(async () => {
    const started = Date.now();
    scratch = mkdtempSync(join(tmpdir(), 'hutch-differential-'));
    registry = await startRegistry();
    files = await startFileServer(servedFiles(corpus));
    const busyboxTar = await busyboxRootfsTar();
    const bases: [string, string][] = [
      [publishImage(busyboxTar, registry.host, 'busybox', 'latest', ['sh']), 'busybox'],
    ];
    let baseKey = `busybox ${fileSha256(busyboxTar)}`;
    const tls = '--tls-verify=false';
    for (let i = 0; i < JOBS; i++) boxes.push(sandbox());
    if (corpus.some((e) => e.expect.debian === true)) {
      const debianTar = debianRootfsTar((boxes[0] as Sandbox).env);
      bases.push([publishImage(debianTar, registry.host, 'debian', 'bookworm', ['bash']), 'debian:bookworm']);
      baseKey += ` debian ${fileSha256(debianTar)}`;
    }
    // hutch takes the base images from the same registry; builds then find them in the store.
    for (const box of boxes) {
      for (const [reference, short] of bases) {
        for (const args of [
          ['pull', '-q', tls, reference],
          ['tag', reference, short],
        ]) {
          const r = await hutchRun(args, box);
          if (r.status !== 0) throw new Error(`hutch ${args.join(' ')}: ${r.stderr}`);
        }
      }
    }
    for (let i = 0; i < JOBS; i++) buildahs.push(buildahTool({ ...process.env }, registry.host));
    const version = spawnSync('buildah', ['--version'], { encoding: 'utf8' }).stdout.trim();
    console.log(`differential: base images ready in ${Math.round((Date.now() - started) / 1000)} s`);

    const slots = boxes.map((box, i) => ({ box, hutch: hutchTool(box), buildah: buildahs[i] as Buildah }));
    let done = 0;
    await pool(corpus, slots, async (entry, slot) => {
      const context = prepareContext(entry, join(scratch, 'contexts'));
      const args = entryArgs(entry, context, registry.host, files.url);
      const { serve: _serve, covers: _covers, files: _files, config: _config, ...how } = entry.expect;
      const key = createHash('sha256')
        .update(JSON.stringify([CACHE_VERSION, version, baseKey, entry.name, how, hashTree(context)]))
        .digest('hex');
      const side = async (tool: Tool, cacheKey?: string): Promise<Side> => {
        if (cacheKey !== undefined) {
          const cached = readCache(cacheKey);
          if (cached !== undefined) return cached;
        }
        const outcome = await tool.build(context, args);
        const s: Side = { ok: outcome.ok, status: outcome.status, output: outcome.output, ms: outcome.ms };
        if (outcome.ok && outcome.image !== undefined) {
          const reading = Date.now();
          s.image = await readImage(tool, outcome.image, scratch);
          s.readMs = Date.now() - reading;
        }
        if (cacheKey !== undefined) writeCache(cacheKey, s);
        return s;
      };
      const [hutchSide, buildahSide] = await Promise.all([
        side(slot.hutch).catch((error: Error): Side => ({
          ok: false,
          status: null,
          output: `harness: ${error.message}`,
          ms: 0,
        })),
        side(slot.buildah, key).catch((error: Error): Side => ({
          ok: false,
          status: null,
          output: `harness: ${error.message}`,
          ms: 0,
        })),
      ]);
      results.set(entry.name, { entry, hutch: hutchSide, buildah: buildahSide });
      done++;
      console.log(
        `[${done}/${corpus.length}] ${entry.name}: hutch ${hutchSide.ok ? 'built' : 'refused'} in ${hutchSide.ms} ms ` +
          `(read in ${hutchSide.readMs ?? 0} ms), ` +
          `buildah ${buildahSide.ok ? 'built' : 'refused'}${buildahSide.cached ? ' (cached)' : ` in ${buildahSide.ms} ms`}`,
      );
      // The stores go with their slots at the end; buildah's vfs copies whole trees per layer, so free those now.
      if (buildahSide.cached !== true) await slot.buildah.run(['rmi', '--force', args.tag]);
    });
    console.log(`differential: ${corpus.length} entries in ${Math.round((Date.now() - started) / 1000)} s`);
  }, 40 * 60_000);

  afterAll(async () => {
    const out = process.env.HUTCH_DIFF_RESULTS ?? join(tmpdir(), 'hutch-build-differential.json');
    const summary = [...results.values()].map((r) => ({
      entry: r.entry.name,
      hutch: { ok: r.hutch.ok, ms: r.hutch.ms, ...(r.hutch.ok ? {} : { tail: tail(r.hutch.output, 8) }) },
      buildah: { ok: r.buildah.ok, ms: r.buildah.ms, cached: r.buildah.cached === true },
      differences:
        r.hutch.image && r.buildah.image ? compareImages(r.hutch.image, r.buildah.image).map((d) => d.where) : null,
    }));
    try {
      writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
    } catch {
      // the summary is a convenience
    }
    for (const b of buildahs) await b.dispose();
    for (const box of boxes) box.dispose();
    await files?.stop();
    await registry?.stop();
    if (scratch !== undefined) spawnSync(hutchBin, ['unshare', 'rm', '-rf', scratch], { env: boxes[0]?.env });
    if (scratch !== undefined && existsSync(scratch)) rmSync(scratch, { recursive: true, force: true });
  });

  it.each(corpus.filter((e) => !e.bad).map((e) => [e.name, e] as const))('%s', (name, entry) => {
    const r = results.get(name);
    expect(r, `${name} was not built (see beforeAll)`).toBeDefined();
    const { hutch, buildah } = r as Result;
    const want = expectedOutcome(entry);
    expect(
      hutch.ok ? 'builds' : 'refuses',
      `hutch ${hutch.ok ? 'built' : 'refused'} ${name}:\n${tail(hutch.output)}`,
    ).toBe(want.hutch);
    expect(
      buildah.ok ? 'builds' : 'refuses',
      `buildah ${buildah.ok ? 'built' : 'refused'} ${name}:\n${tail(buildah.output)}`,
    ).toBe(want.buildah);
    if (entry.expect.buildah?.fails !== undefined && !buildah.ok) {
      expect(buildah.output).toMatch(new RegExp(entry.expect.buildah.fails));
    }
    if (!hutch.ok) return;
    const mine = hutch.image as BuiltImage;
    let reported: Difference[];
    if (buildah.ok) {
      reported = compareImages(mine, buildah.image as BuiltImage);
    } else {
      // No image to compare with: Docker's semantics as the corpus records them.
      reported = checkExpected(mine, entry.expect).map((problem) => ({
        where: problemWhere(problem),
        a: problem,
        b: 'expectations.json',
      }));
    }
    const { unexpected, stale } = judge(name, reported, known);
    expect(
      unexpected,
      `differences docs/build-differences.md does not list:\n${formatDifferences(unexpected, ['hutch', buildah.ok ? 'buildah' : 'want'])}`,
    ).toEqual([]);
    expect(
      stale.map((s) => s.where),
      'rows of docs/build-differences.md that no longer differ',
    ).toEqual([]);
  });

  it.each(corpus.filter((e) => e.bad).map((e) => [e.name, e] as const))('%s is refused', (name, entry) => {
    const r = results.get(name);
    expect(r, `${name} was not built (see beforeAll)`).toBeDefined();
    const { hutch, buildah } = r as Result;
    const want = expectedOutcome(entry);
    expect(buildah.ok ? 'builds' : 'refuses', `buildah on ${name}:\n${tail(buildah.output)}`).toBe(want.buildah);
    expect(hutch.ok ? 'builds' : 'refuses', `hutch on ${name}:\n${tail(hutch.output)}`).toBe(want.hutch);
    if (hutch.ok) return;
    const lines = errorLines(hutch.output);
    expect(lines, `hutch must say why in one Error: line:\n${tail(hutch.output)}`).toHaveLength(1);
    const error = entry.expect.error;
    if (error !== undefined) {
      expect(lines[0]).toMatch(new RegExp(error.message));
      if (error.line > 0) expect(lines[0]).toMatch(new RegExp(`:${error.line}\\b`));
    }
  });
});
