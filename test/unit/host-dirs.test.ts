import { chmodSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseIdMap } from '../../src/host/identity.js';
import { HutchError } from '../../src/errors.js';
import { ensurePrivateDir, notPrivate, notPrivateText, resolvePaths, runtimeDir } from '../../src/host/dirs.js';

const uid = process.getuid?.() ?? 0;

describe('paths', () => {
  it('keeps storage under XDG_DATA_HOME, or ~/.local/share', () => {
    expect(resolvePaths({ XDG_DATA_HOME: '/d', HOME: '/h' }, uid).storage).toBe('/d/hutch');
    expect(resolvePaths({ HOME: '/h' }, uid).storage).toBe('/h/.local/share/hutch');
    expect(resolvePaths({ XDG_DATA_HOME: 'relative', HOME: '/h' }, uid).storage).toBe('/h/.local/share/hutch');
  });

  it('takes --root and --runroot from HUTCH_STORAGE and HUTCH_RUNTIME; the session stays where bin/hutch looks', () => {
    const paths = resolvePaths({ HUTCH_STORAGE: '/r', HUTCH_RUNTIME: '/rr', HOME: '/h' }, uid);
    expect(paths).toMatchObject({ storage: '/r', runtime: '/rr', session: `/tmp/hutch-${uid}` });
    expect(resolvePaths({ HUTCH_STORAGE: 'relative', HOME: '/h' }, uid).storage).toBe('/h/.local/share/hutch');
    expect(resolvePaths({ HOME: '/h' }, uid).runtime).toBe(resolvePaths({ HOME: '/h' }, uid).session);
  });

  it('uses XDG_RUNTIME_DIR only when it is our own directory', () => {
    const own = mkdtempSync(join(tmpdir(), 'hutch-paths-'));
    expect(runtimeDir({ XDG_RUNTIME_DIR: own }, uid)).toBe(join(own, 'hutch'));
    expect(runtimeDir({ XDG_RUNTIME_DIR: '/nonexistent' }, uid)).toBe(`/tmp/hutch-${uid}`);
    expect(runtimeDir({}, uid)).toBe(`/tmp/hutch-${uid}`);
    // A directory of another user (after su, say) is not ours.
    if (uid !== 0) expect(runtimeDir({ XDG_RUNTIME_DIR: '/' }, uid)).toBe(`/tmp/hutch-${uid}`);
  });
});

describe('private directories (notPrivate, ensurePrivateDir)', () => {
  it('accepts our own directories that group and others cannot write, and missing ones', () => {
    const base = mkdtempSync(join(tmpdir(), 'hutch-private-'));
    try {
      mkdirSync(join(base, 'a', 'b'), { recursive: true, mode: 0o755 });
      chmodSync(join(base, 'a'), 0o755);
      expect(notPrivate(base, join(base, 'a', 'b'))).toBeUndefined();
      expect(notPrivate(base, join(base, 'a', 'missing', 'deeper'))).toBeUndefined();
      expect(notPrivate(join(base, 'missing'), join(base, 'missing'))).toBeUndefined();
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('names the first directory from the top that is writable by others, not a directory, or not ours', () => {
    const base = mkdtempSync(join(tmpdir(), 'hutch-private-'));
    try {
      mkdirSync(join(base, 'a', 'b'), { recursive: true });
      chmodSync(join(base, 'a', 'b'), 0o757);
      chmodSync(join(base, 'a'), 0o775);
      const found = notPrivate(base, join(base, 'a', 'b'));
      expect(found).toEqual({ path: join(base, 'a'), uid, mode: 0o775, problem: 'writable' });
      expect(notPrivateText(found!)).toBe(
        `${join(base, 'a')} is not private to you: group or others may write to it (mode 0775)`,
      );
      chmodSync(join(base, 'a'), 0o700);
      expect(notPrivate(base, join(base, 'a', 'b'))).toMatchObject({ path: join(base, 'a', 'b'), mode: 0o757 });
      // A symbolic link is never followed, whatever it leads to.
      symlinkSync(join(base, 'a'), join(base, 'link'));
      expect(notPrivate(base, join(base, 'link', 'b'))).toMatchObject({
        path: join(base, 'link'),
        problem: 'not a directory',
      });
      writeFileSync(join(base, 'file'), '');
      expect(notPrivate(join(base, 'file'), join(base, 'file'))?.problem).toBe('not a directory');
      // A directory of someone else's (root's, for an unprivileged test user).
      if (uid !== 0) {
        expect(notPrivate('/usr', '/usr')).toMatchObject({ path: '/usr', uid: 0, problem: 'owner' });
        expect(notPrivateText(notPrivate('/usr', '/usr')!)).toBe(
          '/usr is not private to you: it belongs to uid 0 (root)',
        );
      }
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('ensurePrivateDir creates what is missing 0700 and refuses with one line and a hint', () => {
    const base = mkdtempSync(join(tmpdir(), 'hutch-private-'));
    try {
      const dir = join(base, 'x', 'y');
      const options = { base: join(base, 'x'), what: 'runtime directory', hint: 'set XDG_RUNTIME_DIR' };
      expect(ensurePrivateDir(dir, options)).toBe(dir);
      expect(notPrivate(join(base, 'x'), dir)).toBeUndefined();
      chmodSync(join(base, 'x'), 0o777);
      let error: unknown;
      try {
        ensurePrivateDir(dir, options);
      } catch (e) {
        error = e;
      }
      expect(error).toBeInstanceOf(HutchError);
      expect((error as HutchError).message).toBe(
        `runtime directory ${join(base, 'x')} is not private to you: group or others may write to it (mode 0777)`,
      );
      expect((error as HutchError).hint).toBe('set XDG_RUNTIME_DIR');
      expect((error as HutchError).exitCode).toBe(125);
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });
});

describe('id map parsing', () => {
  it('reads /proc/PID/uid_map lines', () => {
    expect(parseIdMap('         0       1001          1\n         1     100000      65536\n')).toEqual([
      { inside: 0, outside: 1001, count: 1 },
      { inside: 1, outside: 100000, count: 65536 },
    ]);
  });
});
