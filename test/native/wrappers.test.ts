import { closeSync, mkdtempSync, openSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { SyscallError } from '../../src/errors.js';
import { native } from '../../src/native.js';

describe('thin wrappers', () => {
  it('throw SyscallError with code, errno, syscall and path', () => {
    let error: unknown;
    try {
      native.statfs('/nonexistent/path');
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(SyscallError);
    expect(error).toMatchObject({ code: 'ENOENT', errno: 2, syscall: 'statfs', path: '/nonexistent/path' });
    expect((error as Error).message).toBe("ENOENT: no such file or directory, statfs '/nonexistent/path'");
  });

  it('statfs reports the file system type', () => {
    expect(native.statfs('/proc').type).toBe(0x9fa0); // PROC_SUPER_MAGIC
  });

  it('getxattr returns null for a missing attribute', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-x-')), 'f');
    writeFileSync(file, '');
    expect(native.getxattr(file, 'user.nothing')).toBeNull();
  });

  it('flock: a second open file description cannot take an exclusive lock', () => {
    const file = join(mkdtempSync(join(tmpdir(), 'hutch-lock-')), 'lock');
    const a = openSync(file, 'a');
    const b = openSync(file, 'a');
    expect(native.flock(a, true, false)).toBe(true);
    expect(native.flock(b, true, false)).toBe(false);
    closeSync(a);
    expect(native.flock(b, true, false)).toBe(true);
    closeSync(b);
  });

  it('validates arguments before any system call', () => {
    expect(() => native.pidfdSendSignal(-1, 0)).toThrow(RangeError);
    expect(() => native.execve('/bin/true', ['a\0b'], [])).toThrow(TypeError);
  });

  it('execve failure throws and leaves node running', () => {
    expect(() => native.execve('/nonexistent', ['x'], [])).toThrow(
      /ENOENT: no such file or directory, execve '\/nonexistent'/,
    );
  });
});

describe('errno names and texts', () => {
  it('name and describe errnos libuv does not know', () => {
    const error = new SyscallError(8, 'execve', '/etc/hostname');
    expect(error.code).toBe('ENOEXEC');
    expect(error.message).toBe("ENOEXEC: exec format error, execve '/etc/hostname'");
  });
});
