import { describe, expect, it } from 'vitest';
import { parseSecurityOpts } from '../../src/run/security/security-options.js';

describe('--security-opt', () => {
  it('seccomp and no-new-privileges; label and apparmor change nothing; the rest is refused', () => {
    expect(parseSecurityOpts([])).toEqual({ seccomp: 'default', noNewPrivileges: undefined });
    expect(parseSecurityOpts(['seccomp=unconfined'])).toEqual({ seccomp: 'unconfined', noNewPrivileges: undefined });
    expect(parseSecurityOpts(['seccomp=/p.json', 'no-new-privileges'])).toEqual({
      seccomp: '/p.json',
      noNewPrivileges: true,
    });
    expect(parseSecurityOpts(['no-new-privileges=false']).noNewPrivileges).toBe(false);
    expect(parseSecurityOpts(['label=level:s0:c3,c4', 'apparmor=unconfined'])).toEqual({
      seccomp: 'default',
      noNewPrivileges: undefined,
    });
    expect(() => parseSecurityOpts(['mask=/proc/x'])).toThrow('unsupported --security-opt mask=/proc/x');
  });
});
