import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { BuildfileError } from '../../src/build/containerfile/parser.js';
import { BuildContext, BuildContextError } from '../../src/build/context.js';
import type { CopySource, SourceRef } from '../../src/build/sources.js';

let dir: string;
let outside: string;

function write(path: string, content = path, mode = 0o644): void {
  const full = join(dir, path);
  mkdirSync(join(full, '..'), { recursive: true });
  writeFileSync(full, content);
  chmodSync(full, mode);
}

const at = { line: 3, column: 6 };
const refs = (...sources: string[]): SourceRef[] => sources.map((source) => ({ source, position: at }));
const rels = (s: CopySource) => s.entries.map((e) => `${e.rel}:${e.type}`);

async function resolveError(ctx: BuildContext, ...sources: string[]): Promise<BuildfileError> {
  try {
    await ctx.resolveSources(refs(...sources), { file: 'Containerfile' });
  } catch (e) {
    if (e instanceof BuildfileError) return e;
    throw e;
  }
  throw new Error('no error');
}

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-context-'));
  outside = mkdtempSync(join(tmpdir(), 'hutch-outside-'));
  write('Containerfile', 'FROM scratch\n');
  write('a.txt');
  write('b.txt');
  write('c.md');
  write('run.sh', '#!/bin/sh\n', 0o755);
  write('src/main.go');
  write('src/util/util.go');
  write('src/.hidden');
  write('docs/index.md');
  write('docs/keep.md');
  write('node_modules/x/index.js');
  symlinkSync('a.txt', join(dir, 'link-in'));
  symlinkSync('../src', join(dir, 'docs/src-link'));
  writeFileSync(join(outside, 'secret'), 'secret');
  symlinkSync(join(outside, 'secret'), join(dir, 'link-out'));
  symlinkSync('../../etc', join(dir, 'src/up'));
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  rmSync(outside, { recursive: true, force: true });
});

describe('opening a context', () => {
  it('prefers .containerignore to .dockerignore; an explicit file wins', async () => {
    write('.dockerignore', 'a.txt\n');
    expect((await BuildContext.open(dir)).ignoreFile).toBe(join(dir, '.dockerignore'));
    write('.containerignore', 'b.txt\n');
    const ctx = await BuildContext.open(dir);
    expect(ctx.ignoreFile).toBe(join(dir, '.containerignore'));
    expect([ctx.excluded('a.txt'), ctx.excluded('b.txt')]).toEqual([false, true]);
    write('custom.ignore', 'c.md\n');
    expect((await BuildContext.open(dir, { ignoreFile: join(dir, 'custom.ignore') })).excluded('c.md')).toBe(true);
  });

  it("BuildKit's <Containerfile>.dockerignore beside the Containerfile", async () => {
    write('build/Dockerfile', 'FROM scratch\n');
    write('build/Dockerfile.dockerignore', 'docs\n');
    write('.dockerignore', 'a.txt\n');
    const ctx = await BuildContext.open(dir, { containerfile: join(dir, 'build/Dockerfile') });
    expect(ctx.excluded('docs/index.md')).toBe(true);
    expect(ctx.excluded('a.txt')).toBe(false);
  });

  it('errors: no such directory, a bad pattern (with the line)', async () => {
    await expect(BuildContext.open(join(dir, 'nope'))).rejects.toThrow(BuildContextError);
    write('.dockerignore', 'ok\n[bad\n');
    await expect(BuildContext.open(dir)).rejects.toThrow(/\.dockerignore: syntax error in pattern "\[bad" on line 2/);
  });
});

describe('walk', () => {
  it('lists what the rules keep, depth first in name order; an excluded dir appears for re-included children', async () => {
    write('.dockerignore', 'node_modules\ndocs\n!docs/keep.md\n*.txt\n');
    const ctx = await BuildContext.open(dir);
    const paths = (await ctx.walk()).map((e) => e.path);
    expect(paths).toEqual([
      '.dockerignore',
      'Containerfile',
      'c.md',
      'docs',
      'docs/keep.md',
      'link-in',
      'link-out',
      'run.sh',
      'src',
      'src/.hidden',
      'src/main.go',
      'src/up',
      'src/util',
      'src/util/util.go',
    ]);
  });
});

describe('walk with exceptions, as podman build copies a context', () => {
  it('enters an excluded directory only for an exception that names a path in it', async () => {
    // podman's system test "COPY with ignore": `!*/sub1*` re-includes subdir1/sub1, which is
    // entered for `!subdir1/sub3*`, and not subdir2/sub1, which no exception names.
    for (const name of ['test1', 'test2', 'subdir1/sub1', 'subdir1/sub2', 'subdir1/sub3', 'subdir2/sub1']) {
      write(`ctx/${name}`);
    }
    write('ctx/.dockerignore', '# comment\ntest*\n!test2*\nsubdir1\nsubdir2\n!*/sub1*\n!subdir1/sub3*\n');
    const ctx = await BuildContext.open(join(dir, 'ctx'));
    const files = (await ctx.walk()).filter((e) => e.type === 'file').map((e) => e.path);
    expect(files).toEqual(['.dockerignore', 'subdir1/sub1', 'subdir1/sub3', 'test2']);
  });
});

describe('resolveSources', () => {
  it('a file, a directory by its content, the whole context', async () => {
    const ctx = await BuildContext.open(dir);
    const [file, src] = await ctx.resolveSources(refs('a.txt', 'src/'), { file: 'Containerfile' });
    expect([file?.type, file?.name, file?.entries.map((e) => e.rel)]).toEqual(['file', 'a.txt', ['.']]);
    expect(rels(src as CopySource)).toEqual([
      '.:directory',
      '.hidden:file',
      'main.go:file',
      'up:symlink',
      'util:directory',
      'util/util.go:file',
    ]);
    const [all] = await ctx.resolveSources(refs('.'), { file: 'Containerfile' });
    expect(all?.entries.length).toBe((await ctx.walk()).length + 1);
    const [abs] = await ctx.resolveSources(refs('/src/main.go'), { file: 'Containerfile' });
    expect(abs?.path).toBe('src/main.go');
  });

  it('wildcards: Go filepath.Match per element, sorted, ** is just two stars', async () => {
    const ctx = await BuildContext.open(dir);
    const names = async (p: string) =>
      (await ctx.resolveSources(refs(p), { file: 'Containerfile' })).map((s) => s.path);
    expect(await names('*.txt')).toEqual(['a.txt', 'b.txt']);
    expect(await names('link-*')).toEqual(['link-in']);
    expect(await names('[ab].*')).toEqual(['a.txt', 'b.txt']);
    expect(await names('src/*.go')).toEqual(['src/main.go']);
    expect(await names('*/*.go')).toEqual(['src/main.go']);
    expect(await names('**/*.go')).toEqual(['src/main.go']);
    expect(await names('s?c')).toEqual(['src']);
    expect(await names('docs/src-link/*.go')).toEqual(['docs/src-link/main.go']);
  });

  it('a named symlink is followed (the name stays); symlinks inside a directory are copied as links', async () => {
    const ctx = await BuildContext.open(dir);
    const [link] = await ctx.resolveSources(refs('link-in'), { file: 'Containerfile' });
    expect([link?.type, link?.name, link?.entries[0]?.path]).toEqual(['file', 'link-in', 'a.txt']);
    const [docs] = await ctx.resolveSources(refs('docs/src-link'), { file: 'Containerfile' });
    expect(docs?.type).toBe('directory');
    expect(docs?.entries.find((e) => e.rel === 'up')?.linkTarget).toBe('../../etc');
  });

  it('outside the context: ../, a symlink that leads out, as a source or on the way', async () => {
    const ctx = await BuildContext.open(dir);
    expect((await resolveError(ctx, '../x')).message).toBe(
      'Containerfile:3:6: COPY ../x: forbidden path outside the build context',
    );
    expect((await resolveError(ctx, 'src/../../x')).reason).toMatch(/forbidden path outside the build context/);
    expect((await resolveError(ctx, 'link-out')).reason).toMatch(
      /^COPY link-out: forbidden path outside the build context/,
    );
    expect((await resolveError(ctx, 'src/up/passwd')).reason).toMatch(/forbidden path outside the build context/);
  });

  it("missing or excluded sources: Docker's message; no wildcard match", async () => {
    write('.dockerignore', 'c.md\nnode_modules\n');
    const ctx = await BuildContext.open(dir);
    expect((await resolveError(ctx, 'missing.txt')).message).toBe(
      'Containerfile:3:6: COPY failed: file not found in build context or excluded by .dockerignore: stat missing.txt: file does not exist',
    );
    expect((await resolveError(ctx, 'c.md')).reason).toMatch(
      /^COPY failed: file not found in build context or excluded/,
    );
    expect((await resolveError(ctx, 'node_modules/x/index.js')).reason).toMatch(/file not found/);
    expect((await resolveError(ctx, '*.nothing')).reason).toMatch(/^COPY failed: no source files were specified/);
    expect((await resolveError(ctx, '*.md')).reason).toMatch(/no source files were specified/);
    const [globbed] = await ctx.resolveSources(refs('docs/*.md'), { file: 'Containerfile' });
    expect(globbed?.path).toBe('docs/index.md');
  });

  it('--exclude patterns apply below each source', async () => {
    const ctx = await BuildContext.open(dir);
    const [src] = await ctx.resolveSources(refs('src'), { file: 'Containerfile', excludes: ['*.go', '.hidden'] });
    expect(rels(src as CopySource)).toEqual(['.:directory', 'up:symlink', 'util:directory', 'util/util.go:file']);
    const [deep] = await ctx.resolveSources(refs('src'), { file: 'Containerfile', excludes: ['**/*.go'] });
    expect(rels(deep as CopySource)).toEqual(['.:directory', '.hidden:file', 'up:symlink', 'util:directory']);
  });
});

describe('hashSources', () => {
  it('content, modes and link targets count; owners and times do not', async () => {
    const hash = async () => {
      const ctx = await BuildContext.open(dir);
      return ctx.hashSources(await ctx.resolveSources(refs('src', 'a.txt'), { file: 'Containerfile' }));
    };
    const first = await hash();
    expect(first).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(await hash()).toBe(first);
    utimesSync(join(dir, 'src/main.go'), new Date(0), new Date(0));
    expect(await hash()).toBe(first);
    chmodSync(join(dir, 'src/main.go'), 0o600);
    const moded = await hash();
    expect(moded).not.toBe(first);
    writeFileSync(join(dir, 'src/main.go'), 'changed');
    expect(await hash()).not.toBe(moded);
    rmSync(join(dir, 'src/up'));
    symlinkSync('elsewhere', join(dir, 'src/up'));
    const relinked = await hash();
    write('other.txt', 'unrelated');
    expect(await hash()).toBe(relinked);
  });
});
