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
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  buildah as buildahTool,
  checkExpected,
  entryArgs,
  loadCorpus,
  loadExpectations,
  prepareContext,
  publishImage,
  readImage,
  servedFiles,
  startFileServer,
  type Buildah,
  type FileServer,
} from '../helpers/differential.js';
import { sandbox, type Sandbox } from '../helpers/hutch.js';
import { busyboxRootfsTar, debianRootfsTar, readTarTree, type TreeEntry } from '../helpers/images.js';
import { needRegistry, startRegistry, type TestRegistry } from '../helpers/registry.js';
import { requires } from '../helpers/requires.js';

const need = requires('unprivileged', 'userns', 'subuid', 'newuidmap');
const needReg = needRegistry();
const missingTools = ['buildah', 'skopeo', 'runc'].filter(
  (tool) => spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0,
);
if (missingTools.length > 0 && process.env.CI === 'true') {
  throw new Error(`missing prerequisite in CI: ${missingTools.join(', ')}`);
}
const skip = need.skip || needReg.skip || missingTools.length > 0;

const corpus = loadCorpus();
const expectations = loadExpectations();

interface Result {
  entry: string;
  ok: boolean;
  ms: number;
  status: number | null;
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
  contents: Map<string, Buffer>,
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  const fields = ['type', 'mode', 'uid', 'gid', 'sha256', 'link'] as const;
  for (const [path, e] of rootfs) {
    const b = base.get(path === '/' ? '.' : path.slice(1));
    if (b !== undefined && fields.every((f) => b[f] === e[f])) continue;
    const text = contents.get(path)?.toString('utf8');
    out[path] = {
      type: e.type,
      mode: e.mode.toString(8).padStart(4, '0'),
      uid: e.uid,
      gid: e.gid,
      ...(e.type === 'f' ? { size: e.size } : {}),
      ...(e.link === undefined ? {} : { link: e.link }),
      ...(text !== undefined && /^[\t\n\x20-\x7e]*$/.test(text) ? { content: text } : {}),
    };
  }
  return out;
}

describe.skipIf(skip)('the corpus built by buildah', () => {
  let registry: TestRegistry;
  let files: FileServer;
  let box: Sandbox;
  let tool: Buildah;
  let scratch: string;
  let busybox: Map<string, TreeEntry>;
  const results: Result[] = [];

  beforeAll(async () => {
    scratch = mkdtempSync(join(tmpdir(), 'hutch-corpus-'));
    registry = await startRegistry();
    files = await startFileServer(servedFiles(corpus));
    box = sandbox();
    const busyboxTar = await busyboxRootfsTar();
    busybox = await readTarTree(busyboxTar);
    publishImage(busyboxTar, registry.host, 'busybox', 'latest', ['sh']);
    if (corpus.some((e) => e.expect.debian === true)) {
      publishImage(debianRootfsTar(box.env), registry.host, 'debian', 'bookworm', ['bash']);
    }
    tool = buildahTool({ ...process.env }, registry.host);
  }, 900_000);

  afterAll(async () => {
    const out = process.env.HUTCH_CORPUS_RESULTS ?? join(tmpdir(), 'hutch-corpus-buildah.json');
    writeFileSync(out, `${JSON.stringify(results, null, 2)}\n`);
    console.log(
      `buildah corpus: ${results.filter((r) => r.ok).length} built, ${results.filter((r) => !r.ok).length} failed; details in ${out}`,
    );
    await tool?.dispose();
    box?.dispose();
    await files?.stop();
    await registry?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it.each(corpus.map((e) => [e.name, e] as const))(
    '%s',
    async (_name, entry) => {
      const context = prepareContext(entry, scratch);
      const args = entryArgs(entry, context, registry.host, files.url);
      const outcome = await tool.build(context, args);
      const result: Result = { entry: entry.name, ok: outcome.ok, ms: outcome.ms, status: outcome.status };
      results.push(result);
      if (!outcome.ok) result.tail = outcome.output.trim().split('\n').slice(-8).join('\n');
      const known = entry.expect.buildah;
      if (entry.bad && known?.accepts !== undefined) {
        expect(outcome.ok, `${entry.name}: recorded as accepted by buildah (${known.accepts}), but it failed`).toBe(
          true,
        );
        return;
      }
      if (entry.bad || known?.fails !== undefined) {
        expect(outcome.ok, `${entry.name} built, but must fail:\n${outcome.output.slice(-2000)}`).toBe(false);
        if (known?.fails !== undefined) expect(outcome.output).toMatch(new RegExp(known.fails));
        return;
      }
      expect(outcome.ok, `${entry.name} failed:\n${outcome.output.slice(-3000)}`).toBe(true);
      const contents = new Map<string, Buffer>();
      const image = await readImage(tool, outcome.image as string, scratch, contents);
      result.paths = image.rootfs.size;
      result.config = image.config;
      if (entry.expect.debian !== true) result.changed = changedPaths(image.rootfs, busybox, contents);
      const problems = checkExpected(image, entry.expect, [
        ...Object.keys(expectations.always.config).map((k) => `config.${k}`),
        ...Object.keys(known?.differs ?? {}),
      ]);
      result.problems = problems;
      expect(problems, problems.join('\n')).toEqual([]);
      await tool.run(['rmi', '--force', args.tag]);
    },
    900_000,
  );
});
