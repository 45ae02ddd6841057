import { describe, expect, it } from 'vitest';
import { classifyWhiteout, opaqueXattr } from '../../src/image/layer/whiteout.js';

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
