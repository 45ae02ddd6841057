/**
 * The buildah half of the differential test: every corpus entry built by
 * rootless buildah (Debian's 1.28), read back through the harness
 * (docker-archive → config + stacked layers) and checked against
 * expectations.json: good entries must build and hold the expected config
 * and files (Docker's semantics) except where buildah is recorded to differ,
 * bad entries must fail unless buildah is recorded to accept them. A summary
 * goes to $HUTCH_CORPUS_RESULTS (default $TMPDIR/hutch-corpus-buildah.json).
 * The lead's differential test runs the same entries through hutch with the
 * same harness and compares the two images field by field.
 *
 * buildah builds an entry once: test/helpers/buildah-corpus.ts caches its
 * outcome (keyed on the entry's content and buildah's version) for this file
 * and the differential test alike; HUTCH_BUILDAH_CACHE=0 builds every entry
 * again. HUTCH_DIFF_JOBS builds run at a time (default 2).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildahCorpus, type BuildahCorpus, type BuildahSide, type CorpusServers } from '../helpers/buildah-corpus.js';
import {
  checkExpected,
  loadCorpus,
  loadExpectations,
  publishImage,
  servedFiles,
  startFileServer,
  type FileServer,
} from '../helpers/differential.js';
import { sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar, debianRootfsTar, readTarTree, type TreeEntry } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { missingPrograms, prerequisite, requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap');
const needReg = needRegistry();
const tools = prerequisite(missingPrograms('buildah', 'skopeo', 'runc'));
const skip = need.skip || needReg.skip || tools.skip;

const corpus = loadCorpus();
const expectations = loadExpectations();
const JOBS = Math.max(1, Number(process.env.HUTCH_DIFF_JOBS ?? 2));

interface Result {
  entry: string;
  ok: boolean;
  ms: number;
  status: number | null;
  /** buildah's outcome came from the cache. */
  cached: boolean;
  /** The last lines of buildah's output on failure. */
  tail?: string;
  paths?: number;
  config?: unknown;
  /** What differs from the busybox base image: path → fields (small text files with their content). */
  changed?: Record<string, unknown>;
  problems?: string[];
}

/** The rootfs paths that are new or different from the base image, for the results file. */
function changedPaths(
  rootfs: Map<string, TreeEntry>,
  base: Map<string, TreeEntry>,
  texts: Record<string, string>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = ['type', 'mode', 'uid', 'gid', 'sha256', 'link'] as const;
  for (const [path, e] of rootfs) {
    const b = base.get(path === '/' ? '.' : path.slice(1));
    if (b !== undefined && fields.every((f) => b[f] === e[f])) continue;
    const text = texts[path];
    out[path] = {
      type: e.type,
      mode: e.mode.toString(8).padStart(4, '0'),
      uid: e.uid,
      gid: e.gid,
      ...(e.type === 'f' ? { size: e.size } : {}),
      ...(e.link === undefined ? {} : { link: e.link }),
      ...(text === undefined ? {} : { content: text }),
    };
  }
  return out;
}

describe.skipIf(skip)('the corpus built by buildah', () => {
  let registry: TestRegistry | undefined;
  let files: FileServer | undefined;
  let box: Sandbox;
  let builds: BuildahCorpus;
  let scratch: string;
  let busybox: Map<string, TreeEntry>;
  let sides: Map<string, BuildahSide>;
  const results: Result[] = [];

  beforeAll(async () => {
    const started = Date.now();
    scratch = mkdtempSync(join(tmpdir(), 'hutch-corpus-'));
    box = sandbox();
    busybox = await readTarTree(await busyboxRootfsTar());
    // The registry and the file server only when an entry is not cached.
    const servers = async (): Promise<CorpusServers> => {
      registry = await startRegistry();
      files = await startFileServer(servedFiles(corpus));
      publishImage(await busyboxRootfsTar(), registry.host, 'busybox', 'latest', ['sh']);
      if (corpus.some((e) => e.expect.debian === true)) {
        publishImage(debianRootfsTar(box.env), registry.host, 'debian', 'bookworm', ['bash']);
      }
      return { registryHost: registry.host, filesUrl: files.url };
    };
    builds = buildahCorpus({ scratch, env: box.env, servers });
    sides = await builds.sides(corpus, JOBS);
    const cached = [...sides.values()].filter((s) => s.cached).length;
    console.log(
      `buildah corpus: ${corpus.length} entries in ${Math.round((Date.now() - started) / 1000)} s, ${cached} from the cache`,
    );
  }, 40 * 60_000);

  afterAll(async () => {
    const out = process.env.HUTCH_CORPUS_RESULTS ?? join(tmpdir(), 'hutch-corpus-buildah.json');
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(
      `buildah corpus: ${results.filter((r) => r.ok).length} built, ${results.filter((r) => !r.ok).length} failed; details in ${out}`,
    );
    await builds?.dispose();
    box?.dispose();
    await files?.stop();
    await registry?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it.each(corpus.map((e) => [e.name, e] as const))('%s', (name, entry) => {
    const outcome = sides.get(name);
    expect(outcome, `${name} was not built (see beforeAll)`).toBeDefined();
    const side = outcome as BuildahSide;
    const result: Result = { entry: name, ok: side.ok, ms: side.ms, status: side.status, cached: side.cached };
    results.push(result);
    if (!side.ok) result.tail = side.output.trim().split('\n').slice(-8).join('\n');
    const known = entry.expect.buildah;
    if (entry.bad && known?.accepts !== undefined) {
      expect(side.ok, `${name}: recorded as accepted by buildah (${known.accepts}), but it failed`).toBe(true);
      return;
    }
    if (entry.bad || known?.fails !== undefined) {
      expect(side.ok, `${name} built, but must fail:\n${side.output.slice(-2000)}`).toBe(false);
      if (known?.fails !== undefined) expect(side.output).toMatch(new RegExp(known.fails));
      return;
    }
    expect(side.ok, `${name} failed:\n${side.output.slice(-3000)}`).toBe(true);
    const image = side.image;
    expect(image, `${name}: buildah built it, but the image was not read`).toBeDefined();
    if (image === undefined) return;
    result.paths = image.rootfs.size;
    result.config = image.config;
    if (entry.expect.debian !== true) result.changed = changedPaths(image.rootfs, busybox, side.texts ?? {});
    const problems = checkExpected(image, entry.expect, [
      ...Object.keys(expectations.always.config).map((k) => `config.${k}`),
      ...Object.keys(known?.differs ?? {}),
    ]);
    result.problems = problems;
    expect(problems, problems.join('\n')).toEqual([]);
  });
});
