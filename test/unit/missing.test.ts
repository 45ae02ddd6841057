// Absence against failure: only ENOENT and ENOTDIR mean "not there".
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ifExists, ifExistsAsync, isMissing } from '../../src/fs/missing.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'hutch-missing-'));
});
afterEach(() => {
  chmodSync(dir, 0o755);
  rmSync(dir, { recursive: true, force: true });
});

describe('isMissing', () => {
  it('is ENOENT and ENOTDIR, nothing else', () => {
    expect(isMissing(Object.assign(new Error('x'), { code: 'ENOENT' }))).toBe(true);
    expect(isMissing(Object.assign(new Error('x'), { code: 'ENOTDIR' }))).toBe(true);
    expect(isMissing(Object.assign(new Error('x'), { code: 'EACCES' }))).toBe(false);
    expect(isMissing(new Error('no code'))).toBe(false);
    expect(isMissing(undefined)).toBe(false);
    expect(isMissing(null)).toBe(false);
  });
});

describe('ifExists', () => {
  it('returns the value, or undefined for a missing path or a file on the way', async () => {
    writeFileSync(join(dir, 'file'), 'here');
    expect(ifExists(() => readFileSync(join(dir, 'file'), 'utf8'))).toBe('here');
    expect(ifExists(() => readFileSync(join(dir, 'none'), 'utf8'))).toBeUndefined();
    expect(ifExists(() => readFileSync(join(dir, 'file', 'below'), 'utf8'))).toBeUndefined();
    expect(await ifExistsAsync(readFile(join(dir, 'file'), 'utf8'))).toBe('here');
    expect(await ifExistsAsync(readFile(join(dir, 'none'), 'utf8'))).toBeUndefined();
  });

  it('lets any other error through', async () => {
    expect(() => ifExists(() => readFileSync(dir))).toThrow(expect.objectContaining({ code: 'EISDIR' }));
    await expect(ifExistsAsync(readFile(dir))).rejects.toMatchObject({ code: 'EISDIR' });
  });

  // Root reads through any mode: the unreadable case is an unprivileged user's.
  it.skipIf(process.getuid?.() === 0)('an unreadable directory is EACCES, not absence', () => {
    mkdirSync(join(dir, 'closed'));
    writeFileSync(join(dir, 'closed', 'file'), 'hidden');
    chmodSync(join(dir, 'closed'), 0o000);
    try {
      expect(() => ifExists(() => readFileSync(join(dir, 'closed', 'file')))).toThrow(
        expect.objectContaining({ code: 'EACCES' }),
      );
    } finally {
      chmodSync(join(dir, 'closed'), 0o755);
    }
  });
});
