/**
 * podman's --security-opt values, as `run`, `create` and `build` take them:
 * the seccomp profile (`seccomp=unconfined` or a JSON file) and
 * `no-new-privileges[=true|false]`. `label=…` and `apparmor=…` are accepted
 * and change nothing: no SELinux or AppArmor policy confines a rootless
 * container here. Anything else is refused.
 */
import { HutchError } from '../../errors.js';

export interface SecurityOptions {
  /** `default`, `unconfined` or the path of a JSON profile. */
  seccomp: string;
  /** undefined when not given: `run` sets no_new_privs by default, a build step does not. */
  noNewPrivileges: boolean | undefined;
}

export function parseSecurityOpts(opts: readonly string[]): SecurityOptions {
  const result: SecurityOptions = { seccomp: 'default', noNewPrivileges: undefined };
  for (const opt of opts) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const value = eq < 0 ? '' : opt.slice(eq + 1);
    if (key === 'seccomp') result.seccomp = value;
    else if (key === 'no-new-privileges') result.noNewPrivileges = value === '' || value === 'true';
    else if (key === 'label' || key === 'apparmor') continue;
    else {
      throw new HutchError(`unsupported --security-opt ${opt}`, {
        hint: 'use seccomp=PROFILE.json|unconfined or no-new-privileges',
      });
    }
  }
  return result;
}
