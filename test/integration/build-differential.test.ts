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
 * (default 2, each with a hutch store of its own; an entry's two builds run
 * side by side). buildah's side comes from test/helpers/buildah-corpus.ts,
 * which builds an entry once for this file and test/corpus/buildah.test.ts
 * and caches it in ~/.cache/hutch-test/buildah-corpus/, keyed on the entry's
 * prepared context, its expectations, the base images and buildah's version:
 * a fresh machine runs every buildah build once, a rerun only hutch's
 * (HUTCH_BUILDAH_CACHE=0 turns the cache off). A summary goes to
 * $HUTCH_DIFF_RESULTS (default $TMPDIR/hutch-build-differential.json).
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahCorpus, type BuildahCorpus, type BuildahSide } from '../helpers/buildah-corpus.js';
import {
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
import { busyboxRootfsTar, debianRootfsTar } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { hutchBin, missingPrograms, prerequisite, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap', 'built');
const needReg = needRegistry();
const tools = prerequisite(missingPrograms('buildah', 'skopeo', 'runc'));
const skip = need.skip || needReg.skip || tools.skip;

// HUTCH_DIFF_ONLY=REGEX narrows the corpus while working on some entries; CI runs them all.
const only = process.env.CI === 'true' ? undefined : process.env.HUTCH_DIFF_ONLY;
const corpus = loadCorpus().filter((e) => only === undefined || new RegExp(only).test(e.name));
const known = loadDifferences();
const JOBS = Math.max(1, Number(process.env.HUTCH_DIFF_JOBS ?? 2));
const BUILD_TIMEOUT_MS = 10 * 60_000;

/** What a tool made of an entry. */
interface Side {
  ok: boolean;
  status: number | null;
  output: string;
  ms: number;
  image?: BuiltImage;
  /** How long saving and reading the image took. */
  readMs?: number;
}

interface Result {
  entry: CorpusEntry;
  hutch: Side;
  buildah: BuildahSide;
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
  let buildah: BuildahCorpus | undefined;

  beforeAll(async () => {
    const started = Date.now();
    scratch = mkdtempSync(join(tmpdir(), 'hutch-differential-'));
    registry = await startRegistry();
    files = await startFileServer(servedFiles(corpus));
    const busyboxTar = await busyboxRootfsTar();
    const bases: [string, string][] = [
      [publishImage(busyboxTar, registry.host, 'busybox', 'latest', ['sh']), 'busybox'],
    ];
    const tls = '--tls-verify=false';
    for (let i = 0; i < JOBS; i++) boxes.push(sandbox());
    if (corpus.some((e) => e.expect.debian === true)) {
      const debianTar = debianRootfsTar((boxes[0] as Sandbox).env);
      bases.push([publishImage(debianTar, registry.host, 'debian', 'bookworm', ['bash']), 'debian:bookworm']);
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
    const servers = { registryHost: registry.host, filesUrl: files.url };
    buildah = buildahCorpus({ scratch, env: (boxes[0] as Sandbox).env, servers: () => Promise.resolve(servers) });
    const buildahSides = buildah;
    console.log(`differential: base images ready in ${Math.round((Date.now() - started) / 1000)} s`);

    const slots = boxes.map((box) => ({ box, hutch: hutchTool(box) }));
    let done = 0;
    await pool(corpus, slots, async (entry, slot) => {
      const context = prepareContext(entry, join(scratch, 'contexts'));
      const args = entryArgs(entry, context, registry.host, files.url);
      const side = async (tool: Tool): Promise<Side> => {
        const outcome = await tool.build(context, args);
        const s: Side = { ok: outcome.ok, status: outcome.status, output: outcome.output, ms: outcome.ms };
        if (outcome.ok && outcome.image !== undefined) {
          const reading = Date.now();
          s.image = await readImage(tool, outcome.image, scratch);
          s.readMs = Date.now() - reading;
        }
        return s;
      };
      const [hutchSide, buildahSide] = await Promise.all([
        side(slot.hutch).catch((error: Error): Side => ({
          ok: false,
          status: null,
          output: `harness: ${error.message}`,
          ms: 0,
        })),
        buildahSides.side(entry),
      ]);
      results.set(entry.name, { entry, hutch: hutchSide, buildah: buildahSide });
      done++;
      console.log(
        `[${done}/${corpus.length}] ${entry.name}: hutch ${hutchSide.ok ? 'built' : 'refused'} in ${hutchSide.ms} ms ` +
          `(read in ${hutchSide.readMs ?? 0} ms), ` +
          `buildah ${buildahSide.ok ? 'built' : 'refused'}${buildahSide.cached ? ' (cached)' : ` in ${buildahSide.ms} ms`}`,
      );
    });
    console.log(`differential: ${corpus.length} entries in ${Math.round((Date.now() - started) / 1000)} s`);
  }, 40 * 60_000);

  afterAll(async () => {
    const out = process.env.HUTCH_DIFF_RESULTS ?? join(tmpdir(), 'hutch-build-differential.json');
    const summary = [...results.values()].map((r) => ({
      entry: r.entry.name,
      hutch: { ok: r.hutch.ok, ms: r.hutch.ms, ...(r.hutch.ok ? {} : { tail: tail(r.hutch.output, 8) }) },
      buildah: { ok: r.buildah.ok, ms: r.buildah.ms, cached: r.buildah.cached },
      differences:
        r.hutch.image && r.buildah.image ? compareImages(r.hutch.image, r.buildah.image).map((d) => d.where) : null,
    }));
    try {
      writeFileSync(out, `${JSON.stringify(summary, null, 2)}\n`);
    } catch {
      // the summary is a convenience
    }
    await buildah?.dispose();
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
