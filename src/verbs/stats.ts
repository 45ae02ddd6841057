/**
 * `hutch stats`: readings of the containers' cgroups, one per interval until
 * the caller stops asking (or one with --no-stream). Each reading has a row
 * per container, CPU as a share of the time since the previous reading.
 */
import { totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { readStats, type CgroupState } from '../run/cgroups/index.js';
import { cgroupOf, runningCgroup, whyNoCgroup } from '../run/cgroups/container-cgroup.js';
import { statsRow, type Stats, type StatsRow } from '../run/cgroups/stats.js';
import { openRuntime, type Runtime } from '../run/container/lifecycle.js';
import type { Container } from '../run/container/store.js';

export interface StatsOptions {
  /** Keep reading every `interval` seconds (podman's default); else one reading. */
  stream: boolean;
  interval: number;
}

export interface StatsReading {
  rows: StatsRow[];
  /** The host's memory, the limit of a container without one. */
  hostMemory: number;
  /** In the first reading that has any: running containers left out for having no cgroup of their own, and why. */
  notShown?: { count: number; reason: string };
}

interface Watched {
  container: Container;
  cgroup: CgroupState;
}

/** The containers to read: those named (each must be running, with a cgroup), or every running one that has a cgroup. */
function watched(runtime: Runtime, names: readonly string[]): { list: Watched[]; without: number } {
  if (names.length > 0) {
    return {
      list: names.map((name) => {
        const container = runtime.containers.find(name);
        return { container, cgroup: runningCgroup(container, 'read the statistics of') };
      }),
      without: 0,
    };
  }
  const running = runtime.containers.list().filter((c) => c.state.status === 'running');
  const list = running.flatMap((container) => {
    const cgroup = cgroupOf(container);
    return cgroup === undefined ? [] : [{ container, cgroup }];
  });
  return { list, without: running.length - list.length };
}

export async function* stats(
  names: readonly string[],
  options: StatsOptions,
): AsyncGenerator<StatsReading, void, undefined> {
  const runtime = await openRuntime();
  const hostMemory = totalmem();
  const previous = new Map<string, Stats>();
  let noted = false;
  for (;;) {
    const { list, without } = watched(runtime, names);
    let notShown: StatsReading['notShown'];
    if (without > 0 && !noted) {
      notShown = { count: without, reason: whyNoCgroup().reason };
      noted = true;
    }
    const rows = list.flatMap(({ container, cgroup }) => {
      let now: Stats;
      try {
        now = readStats(cgroup);
      } catch (error) {
        // Exited since it was listed; a named one that is gone is an error on the next round.
        if (names.length > 0 && !options.stream) throw error;
        return [];
      }
      const startedAt = Date.parse(container.state.startedAt ?? container.config.created);
      const row = statsRow(
        { id: container.config.id, name: container.config.name, startedAt },
        now,
        previous.get(container.config.id),
        hostMemory,
      );
      previous.set(container.config.id, now);
      return [row];
    });
    yield { rows, hostMemory, ...(notShown === undefined ? {} : { notShown }) };
    if (!options.stream) return;
    await sleep(options.interval * 1000);
  }
}
