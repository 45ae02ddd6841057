import { describe, expect, it } from 'vitest';
import { HutchError, SyscallError, withContext } from '../../src/errors.js';
import { explain } from '../../src/explain.js';

const open = { maxUserNamespaces: 1000, unprivilegedUsernsClone: undefined, apparmorRestrict: undefined };
const cloneFailure = (errno: number) =>
  withContext('userns', 'create a user namespace', new SyscallError(errno, 'clone3'));

describe('explain', () => {
  it('says user namespaces are disabled when max_user_namespaces is 0', () => {
    const e = explain(cloneFailure(28), { ...open, maxUserNamespaces: 0 });
    expect(e.line).toMatch(/user namespaces are disabled \(user.max_user_namespaces = 0\)/);
    expect(e.hint).toMatch(/sysctl -w user.max_user_namespaces=/);
    expect(e.exitCode).toBe(125);
  });

  it('says the limit is reached when it is not 0', () => {
    expect(explain(cloneFailure(28), open).line).toMatch(/limit user.max_user_namespaces \(1000\) is reached/);
  });

  it("names Debian's unprivileged_userns_clone switch", () => {
    const e = explain(cloneFailure(1), { ...open, unprivilegedUsernsClone: 0 });
    expect(e.line).toMatch(/kernel.unprivileged_userns_clone = 0/);
    expect(e.hint).toMatch(/sysctl -w kernel.unprivileged_userns_clone=1/);
  });

  it("names Ubuntu's AppArmor restriction, also when it shows up as a later EPERM", () => {
    const mountFailure = withContext('session', 'start the hutch session', new SyscallError(1, 'mount', '/'));
    const e = explain(mountFailure, { ...open, apparmorRestrict: 1 });
    expect(e.line).toMatch(/AppArmor restricts unprivileged user namespaces/);
    expect(e.hint).toMatch(/userns/);
  });

  it('blames a sandbox for EPERM from clone when no switch explains it', () => {
    expect(explain(cloneFailure(1), open).line).toMatch(/seccomp filter or a security module/);
  });

  it('keeps the context chain and the hint of a known error', () => {
    const inner = new HutchError('newuidmap not found on PATH', { hint: 'install uidmap' });
    const e = explain(withContext('session', 'start the hutch session', inner), open);
    expect(e).toEqual({
      line: 'start the hutch session: newuidmap not found on PATH',
      hint: 'install uidmap',
      exitCode: 125,
    });
  });

  it('passes an unknown error through as one line', () => {
    const e = explain(new SyscallError(2, 'statfs', '/x'), open);
    expect(e).toEqual({ line: "ENOENT: no such file or directory, statfs '/x'", hint: undefined, exitCode: 125 });
  });

  it('keeps the exit status of command errors', () => {
    expect(explain(new HutchError('x: command not found', { exitCode: 127 }), open).exitCode).toBe(127);
  });
});
