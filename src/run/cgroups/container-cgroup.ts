/**
 * A container's cgroup as its state.json keeps it (`state.cgroup`, see
 * index.ts), for the verbs on it (pause, unpause, stats, update in
 * src/verbs). A container started without limits has no cgroup of its own and
 * gets a clear refusal, not a silent no-op.
 */
import { HutchError } from '../../errors.js';
import type { Container } from '../container/store.js';
import { subtreeOf } from './delegation.js';
import type { CgroupState } from './index.js';
import { checkCgroups, readCgroupFacts } from './probe.js';

/** The container's cgroup, if it was started with one. */
export function cgroupOf(container: Container): CgroupState | undefined {
  return container.state.cgroup;
}

/** Why containers get no cgroup of their own here (hutch info's cgroups section), or why this one has none. */
export function whyNoCgroup(): { reason: string; hint: string } {
  const facts = readCgroupFacts();
  if (subtreeOf(facts) !== undefined) {
    return {
      reason: 'it was started when no cgroup could be made for it',
      hint: 'restart it: containers started now get a cgroup of their own',
    };
  }
  const { delegation } = checkCgroups(facts);
  return { reason: delegation.detail, hint: delegation.fix ?? 'hutch info shows what the cgroups lack' };
}

/** The container's id as podman's messages give it. */
export function shortId(container: Container): string {
  return container.config.id.slice(0, 12);
}

/** A running container's cgroup, or the refusal that says why there is none. */
export function runningCgroup(container: Container, verb: string): CgroupState {
  if (container.state.status !== 'running') {
    throw new HutchError(
      `can only ${verb} running containers. ${shortId(container)} is in state ${container.state.status}: container state improper`,
    );
  }
  const cgroup = cgroupOf(container);
  if (cgroup === undefined) {
    const why = whyNoCgroup();
    throw new HutchError(
      `cannot ${verb} container ${container.config.name}: it has no cgroup of its own: ${why.reason}`,
      {
        hint: why.hint,
      },
    );
  }
  return cgroup;
}
