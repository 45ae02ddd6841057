import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { native } from '../../src/native.js';
import { OVERLAY_XATTR, readXattrs, setXattrs, withoutOverlayXattrs } from '../../src/fs/xattr.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-xattr-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const binary = Buffer.from([0, 1, 0xff, 0x0a]);

describe('readXattrs and setXattrs', () => {
  it('read back what was set, binary values included', () => {
    const path = join(dir, 'f');
    writeFileSync(path, '');
    expect(readXattrs(path)).toEqual(new Map());
    const xattrs = new Map([
      ['user.bin', binary],
      ['user.text', Buffer.from('hello')],
    ]);
    setXattrs(path, xattrs);
    expect(readXattrs(path)).toEqual(xattrs);
  });

  it('copy from one file to another', () => {
    const from = join(dir, 'from');
    const to = join(dir, 'to');
    writeFileSync(from, '');
    writeFileSync(to, '');
    native.setxattr(from, 'user.a', Buffer.from('1'));
    setXattrs(to, readXattrs(from));
    expect(native.getxattr(to, 'user.a')).toEqual(Buffer.from('1'));
  });

  it('skip what this process may not set (trusted.* outside the initial user namespace is EPERM)', () => {
    const path = join(dir, 'f');
    writeFileSync(path, '');
    const asRoot = process.getuid?.() === 0;
    setXattrs(
      path,
      new Map([
        ['trusted.hutch-test', Buffer.from('x')],
        ['user.kept', Buffer.from('y')],
      ]),
    );
    expect(readXattrs(path).get('user.kept')).toEqual(Buffer.from('y'));
    if (!asRoot) expect(readXattrs(path).has('trusted.hutch-test')).toBe(false);
  });

  it('throw other failures (a missing path)', () => {
    expect(() => setXattrs(join(dir, 'missing'), new Map([['user.a', binary]]))).toThrow(/ENOENT/);
    expect(() => readXattrs(join(dir, 'missing'))).toThrow(/ENOENT/);
  });

  it('never follow a final symlink', () => {
    const target = join(dir, 'target');
    writeFileSync(target, '');
    native.setxattr(target, 'user.a', Buffer.from('1'));
    symlinkSync(target, join(dir, 'link'));
    expect(readXattrs(join(dir, 'link'))).toEqual(new Map());
  });
});

describe('withoutOverlayXattrs', () => {
  it("drops overlay's and fuse-overlayfs's own attributes in both namespaces, keeps the rest", () => {
    const xattrs = new Map([
      ['user.overlay.opaque', Buffer.from('y')],
      ['trusted.overlay.redirect', Buffer.from('/a')],
      ['user.fuseoverlayfs.opaque', Buffer.from('y')],
      ['security.capability', binary],
      ['user.overlayish', Buffer.from('kept')],
    ]);
    expect([...withoutOverlayXattrs(xattrs).keys()]).toEqual(['security.capability', 'user.overlayish']);
    expect(OVERLAY_XATTR.test('trusted.fuseoverlayfs.origin')).toBe(true);
  });
});
