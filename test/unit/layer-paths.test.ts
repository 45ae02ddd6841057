import { existsSync, lstatSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import {
  baseOf,
  cleanEntryName,
  cleanLinkTarget,
  LayerTree,
  MalformedLayerError,
  parentOf,
  UnsafeLayerError,
} from '../../src/image/layer/layer-tree.js';
import { classifyWhiteout, opaqueXattr } from '../../src/image/layer/whiteout.js';

describe('cleanEntryName', () => {
  it('keeps clean names as they are', () => {
    expect(cleanEntryName('usr/bin/env')).toBe('usr/bin/env');
    expect(cleanEntryName('a')).toBe('a');
    expect(cleanEntryName('.hidden/..dots/...')).toBe('.hidden/..dots/...');
  });

  it('removes ./ prefixes, . components, empty components and trailing slashes', () => {
    expect(cleanEntryName('./usr/bin/')).toBe('usr/bin');
    expect(cleanEntryName('./././etc//passwd')).toBe('etc/passwd');
    expect(cleanEntryName('a/./b/.')).toBe('a/b');
    expect(cleanEntryName('usr//lib///x')).toBe('usr/lib/x');
  });

  it('names the root as the empty string', () => {
    expect(cleanEntryName('./')).toBe('');
    expect(cleanEntryName('.')).toBe('');
    expect(cleanEntryName('a/..')).toBe('');
  });

  it('folds .. that stays inside the root', () => {
    expect(cleanEntryName('a/b/../c')).toBe('a/c');
    expect(cleanEntryName('./a/../b/./c/..')).toBe('b');
  });

  it('rejects absolute names', () => {
    expect(() => cleanEntryName('/etc/passwd')).toThrow(UnsafeLayerError);
    expect(() => cleanEntryName('/etc/passwd')).toThrow(
      'layer entry "/etc/passwd" has an absolute path: the layer is rejected as unsafe',
    );
    expect(() => cleanEntryName('/')).toThrow(UnsafeLayerError);
  });

  it('rejects .. that climbs out of the root', () => {
    expect(() => cleanEntryName('../x')).toThrow('layer entry "../x" climbs out of the layer root through ".."');
    expect(() => cleanEntryName('a/../../x')).toThrow(UnsafeLayerError);
    expect(() => cleanEntryName('./..')).toThrow(UnsafeLayerError);
    expect(() => cleanEntryName('a/b/../../..')).toThrow(UnsafeLayerError);
  });

  it('rejects NUL bytes and empty names', () => {
    expect(() => cleanEntryName('a\0b')).toThrow(UnsafeLayerError);
    expect(() => cleanEntryName('')).toThrow(MalformedLayerError);
  });

  it('gives every unsafe case a hint', () => {
    try {
      cleanEntryName('../x');
      expect.unreachable();
    } catch (error) {
      expect((error as UnsafeLayerError).hint).toMatch(/nothing was written outside/);
      expect((error as UnsafeLayerError).entry).toBe('../x');
    }
  });
});

describe('cleanLinkTarget', () => {
  it('cleans hard link targets like names', () => {
    expect(cleanLinkTarget('b', './usr/bin/a')).toBe('usr/bin/a');
    expect(cleanLinkTarget('b', 'x/../a')).toBe('a');
  });

  it('rejects targets outside the layer, naming the link entry', () => {
    expect(() => cleanLinkTarget('stolen', '/etc/shadow')).toThrow(
      'layer entry "stolen" is a hard link to "/etc/shadow", which is an absolute path outside the layer: the layer is rejected as unsafe',
    );
    expect(() => cleanLinkTarget('stolen', '../etc/shadow')).toThrow(
      'layer entry "stolen" is a hard link to "../etc/shadow", which climbs out of the layer through ".."',
    );
    expect(() => cleanLinkTarget('stolen', '')).toThrow(MalformedLayerError);
  });
});

describe('parentOf and baseOf', () => {
  it('split a cleaned path', () => {
    expect(parentOf('a/b/c')).toBe('a/b');
    expect(parentOf('c')).toBe('');
    expect(baseOf('a/b/c')).toBe('c');
    expect(baseOf('c')).toBe('c');
  });
});

describe('classifyWhiteout', () => {
  it('leaves ordinary names alone', () => {
    expect(classifyWhiteout('usr/bin/env')).toEqual({ kind: 'none' });
    expect(classifyWhiteout('a.wh.b')).toEqual({ kind: 'none' });
  });

  it('reads .wh.NAME as a whiteout of NAME in the same directory', () => {
    expect(classifyWhiteout('etc/.wh.passwd')).toEqual({ kind: 'whiteout', target: 'etc/passwd' });
    expect(classifyWhiteout('.wh.tmp')).toEqual({ kind: 'whiteout', target: 'tmp' });
  });

  it('reads .wh..wh..opq as an opaque marker of its directory', () => {
    expect(classifyWhiteout('var/cache/.wh..wh..opq')).toEqual({ kind: 'opaque', dir: 'var/cache' });
    expect(classifyWhiteout('.wh..wh..opq')).toEqual({ kind: 'opaque', dir: '' });
  });

  it('skips AUFS metadata and what is inside it', () => {
    expect(classifyWhiteout('.wh..wh.plnk')).toEqual({ kind: 'meta' });
    expect(classifyWhiteout('.wh..wh.plnk/123.456')).toEqual({ kind: 'meta' });
    expect(classifyWhiteout('.wh..wh.aufs')).toEqual({ kind: 'meta' });
  });

  it('flags whiteouts that name nothing', () => {
    expect(classifyWhiteout('a/.wh.')).toEqual({ kind: 'invalid' });
    expect(classifyWhiteout('a/.wh..')).toEqual({ kind: 'invalid' });
    expect(classifyWhiteout('a/.wh...')).toEqual({ kind: 'invalid' });
  });

  it('names the opaque xattr by namespace', () => {
    expect(opaqueXattr(true)).toBe('user.overlay.opaque');
    expect(opaqueXattr(false)).toBe('trusted.overlay.opaque');
  });
});

describe('LayerTree', () => {
  let base: string;
  let root: string;
  let outside: string;
  beforeEach(() => {
    base = mkdtempSync(join(tmpdir(), 'hutch-layer-paths-'));
    root = join(base, 'root');
    outside = join(base, 'outside');
    mkdirSync(root);
    mkdirSync(outside);
    writeFileSync(join(outside, 'secret'), 's');
  });
  afterEach(() => rmSync(base, { recursive: true, force: true }));

  it('refuses a root that is not a directory', () => {
    symlinkSync(outside, join(base, 'link'));
    expect(() => new LayerTree(join(base, 'link'))).toThrow(/not a directory/);
    expect(() => new LayerTree(join(base, 'missing'))).toThrow(/not a directory/);
  });

  it('creates missing parents as 0755 directories', () => {
    const tree = new LayerTree(root);
    const umask = process.umask(0o077);
    try {
      tree.ensureParent('a/b/c', 'a/b/c');
    } finally {
      process.umask(umask);
    }
    expect(lstatSync(join(root, 'a/b')).isDirectory()).toBe(true);
    expect(lstatSync(join(root, 'a/b')).mode & 0o7777).toBe(0o755);
    expect(existsSync(join(root, 'a/b/c'))).toBe(false);
    expect(tree.isKnownDir('a/b')).toBe(true);
    expect(tree.path('a/b')).toBe(`${root}/a/b`);
    expect(tree.path('')).toBe(root);
  });

  it('rejects a parent that is a symlink, absolute or relative', () => {
    const tree = new LayerTree(root);
    symlinkSync(outside, join(root, 'abs'));
    symlinkSync('../outside', join(root, 'rel'));
    expect(() => tree.ensureParent('abs/secret', 'abs/secret')).toThrow(
      'layer entry "abs/secret" would be written through the symlink "abs": the layer is rejected as unsafe',
    );
    expect(() => tree.ensureParent('./rel/x/y', 'rel/x/y')).toThrow(/through the symlink "rel"/);
    expect(existsSync(join(outside, 'x'))).toBe(false);
  });

  it('rejects a parent that is a file', () => {
    const tree = new LayerTree(root);
    writeFileSync(join(root, 'f'), '');
    expect(() => tree.ensureParent('f/x', 'f/x')).toThrow(MalformedLayerError);
  });

  it('forgets a directory replaced by a symlink', () => {
    const tree = new LayerTree(root);
    tree.ensureParent('d/e/x', 'd/e/x');
    rmSync(join(root, 'd'), { recursive: true });
    tree.forget('d');
    expect(tree.isKnownDir('d')).toBe(false);
    expect(tree.isKnownDir('d/e')).toBe(false);
    symlinkSync(outside, join(root, 'd'));
    expect(() => tree.ensureParent('d/e/x', 'd/e/x')).toThrow(UnsafeLayerError);
  });

  it('checks hard link targets', () => {
    const tree = new LayerTree(root);
    writeFileSync(join(root, 'real'), '');
    mkdirSync(join(root, 'dir'));
    writeFileSync(join(root, 'dir/inner'), '');
    symlinkSync(outside, join(root, 'evil'));
    symlinkSync('real', join(root, 'alias'));
    expect(tree.checkLinkTarget('x', 'real').isFile()).toBe(true);
    expect(tree.checkLinkTarget('x', 'dir/inner').isFile()).toBe(true);
    // A symlink may be hard linked: link(2) does not follow it.
    expect(tree.checkLinkTarget('x', 'alias').isSymbolicLink()).toBe(true);
    expect(() => tree.checkLinkTarget('x', 'evil/secret')).toThrow(
      'layer entry "x" is a hard link to "evil/secret", which is reached through the symlink "evil"',
    );
    expect(() => tree.checkLinkTarget('x', 'nope')).toThrow(
      'layer entry "x" is a hard link to "nope", which does not exist in the layer',
    );
    expect(() => tree.checkLinkTarget('x', 'missing/dir/f')).toThrow(/does not exist in the layer/);
    // Checking a link target never creates anything.
    expect(existsSync(join(root, 'missing'))).toBe(false);
  });
});
