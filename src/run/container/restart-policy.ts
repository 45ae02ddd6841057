/**
 * `--restart`: what happens when a container exits on its own. There is no
 * daemon: the container's monitor runs `hutch container cleanup ID` when the
 * container exits (its exit command), and that cleanup starts the container
 * again when the policy says so, with a new monitor that does the same at the
 * next exit. Nothing restarts a container whose monitor is gone: a reboot, or
 * a logout that ends the user's processes (docs/containers.md says how to get
 * both with systemd).
 *
 * podman's rules: `no` (or '') never; `always` and `unless-stopped` after any
 * exit; `on-failure[:N]` after a non-zero exit, at most N times (0: no
 * limit). A container stopped or killed through hutch (stop, kill, rm -f) is
 * not restarted (restart-state.ts).
 */
import { HutchError } from '../../errors.js';

export type RestartPolicyName = '' | 'no' | 'always' | 'on-failure' | 'unless-stopped';

export interface RestartPolicy {
  name: RestartPolicyName;
  /** on-failure's N: the most restarts in a row; 0, no limit. */
  maxRetries: number;
}

const NAMES: readonly RestartPolicyName[] = ['no', 'always', 'on-failure', 'unless-stopped'];

/** --restart as podman reads it; refusals in its words (exit 125). */
export function parseRestartPolicy(text: string | undefined, autoRemove: boolean): RestartPolicy | undefined {
  if (text === undefined || text === '') return undefined;
  if (autoRemove && text !== 'no') {
    throw new HutchError('the --rm option conflicts with --restart, when the restartPolicy is not "" and "no"', {
      hint: 'a container removed when it exits cannot be restarted: drop one of them',
    });
  }
  const parts = text.split(':');
  if (parts.length > 2) throw new HutchError('invalid restart policy: may specify retries at most once');
  const name = parts[0] as string;
  let maxRetries = 0;
  if (parts.length === 2) {
    if (name.toLowerCase() !== 'on-failure') {
      throw new HutchError('restart policy retries can only be specified with on-failure restart policy');
    }
    const count = parts[1] as string;
    if (!/^[-+]?\d+$/.test(count)) {
      throw new HutchError(`parsing restart policy retry count: strconv.Atoi: parsing "${count}": invalid syntax`);
    }
    maxRetries = Number(count);
    if (maxRetries < 0) throw new HutchError('must specify restart policy retry count as a number greater than 0');
  }
  if (!(NAMES as string[]).includes(name)) {
    throw new HutchError(`"${name}" is not a valid restart policy: invalid argument`, {
      hint: 'use no, always, on-failure[:N] or unless-stopped',
    });
  }
  return { name: name as RestartPolicyName, maxRetries };
}

/** HostConfig.RestartPolicy as podman's inspect shows it. */
export function inspectRestartPolicy(policy: RestartPolicy | undefined): { Name: string; MaximumRetryCount: number } {
  return { Name: policy?.name ?? '', MaximumRetryCount: policy?.maxRetries ?? 0 };
}
