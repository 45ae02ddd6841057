/**
 * The use cases behind `hutch pause`, `unpause`, `stats` and `update`, on a
 * container's cgroup as its state.json keeps it (`state.cgroup`, see
 * index.ts). A container started without limits has no cgroup of its own and
 * gets a clear refusal, not a silent no-op.
 */
import { totalmem } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { HutchError } from '../../errors.js';
import { tabulate } from '../../image/images.js';
import { openRuntime, type Runtime } from '../container/lifecycle.js';
import type { Container } from '../container/store.js';
import { subtreeOf } from './delegation.js';
import { freeze, isFrozen, readStats, updateLimits, type CgroupState, type Limits } from './index.js';
import { checkCgroups, readCgroupFacts } from './probe.js';
import { statsJson, statsRow, statsTable, type Stats } from './stats.js';

/** The container's cgroup, if it was started with one. */
export function cgroupOf(container: Container): CgroupState | undefined {
  return container.state.cgroup;
}

/** Why containers get no cgroup of their own here (hutch info's cgroups section), or why this one has none. */
function whyNoCgroup(): { reason: string; hint: string } {
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

function short(container: Container): string {
  return container.config.id.slice(0, 12);
}

/** A running container's cgroup, or the refusal that says why there is none. */
function runningCgroup(container: Container, verb: string): CgroupState {
  if (container.state.status !== 'running') {
    throw new HutchError(
      `can only ${verb} running containers. ${short(container)} is in state ${container.state.status}: container state improper`,
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

/** Runs each name; reports every failure, fails with the first one after the rest were tried. */
async function each(names: string[], task: (name: string) => Promise<void>): Promise<void> {
  let first: unknown;
  for (const name of names) {
    try {
      await task(name);
    } catch (error) {
      if (first !== undefined) process.stderr.write(`Error: ${(error as Error).message}\n`);
      first ??= error;
    }
  }
  if (first !== undefined) throw first;
}

export async function pauseVerb(names: string[]): Promise<void> {
  const runtime = await openRuntime();
  await each(names, async (name) => {
    const container = runtime.containers.find(name);
    const cgroup = runningCgroup(container, 'pause');
    if (isFrozen(cgroup)) throw new HutchError(`${short(container)} is already paused: container state improper`);
    await freeze(cgroup, true);
    process.stdout.write(`${name}\n`);
  });
}

export async function unpauseVerb(names: string[]): Promise<void> {
  const runtime = await openRuntime();
  await each(names, async (name) => {
    const container = runtime.containers.find(name);
    const cgroup = runningCgroup(container, 'unpause');
    if (!isFrozen(cgroup)) throw new HutchError(`${short(container)} is not paused: container state improper`);
    await freeze(cgroup, false);
    process.stdout.write(`${name}\n`);
  });
}

/** `hutch update`: new limits on a running container, kept in its state. Prints its id, as podman does. */
export async function updateVerb(name: string, limits: Limits): Promise<void> {
  if (Object.keys(limits).length === 0) {
    throw new HutchError('nothing to update', { hint: 'give a limit to change, e.g. --memory 256m or --cpus 1' });
  }
  const runtime = await openRuntime();
  const found = runtime.containers.find(name);
  const release = await runtime.containers.lock(found.config.id);
  try {
    const container = runtime.containers.read(found.config.id);
    if (container === undefined) throw new HutchError(`container ${found.config.name} was removed`);
    const cgroup = runningCgroup(container, 'update');
    const next = await updateLimits(cgroup, limits);
    runtime.containers.writeState(container.config.id, { ...container.state, cgroup: next });
    runtime.containers.writeResources(container.config.id, next.limits);
  } finally {
    release();
  }
  process.stdout.write(`${found.config.id}\n`);
}

export interface StatsOptions {
  /** Keep reading every `interval` seconds (podman's default); else one reading. */
  stream: boolean;
  format: 'table' | 'json';
  interval: number;
}

interface Watched {
  container: Container;
  cgroup: CgroupState;
}

/** The containers to read: those named (each must be running, with a cgroup), or every running one that has a cgroup. */
function watched(runtime: Runtime, names: string[]): { list: Watched[]; without: number } {
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

/** `hutch stats`: a table (or JSON array) per reading; streams until interrupted unless --no-stream. */
export async function statsVerb(names: string[], options: StatsOptions): Promise<void> {
  const runtime = await openRuntime();
  const hostMemory = totalmem();
  const previous = new Map<string, Stats>();
  const tty = process.stdout.isTTY === true && options.stream && options.format === 'table';
  let noted = false;
  for (;;) {
    const { list, without } = watched(runtime, names);
    if (without > 0 && !noted) {
      process.stderr.write(
        `hutch stats: ${without} running container${without === 1 ? ' has' : 's have'} no cgroup of ${without === 1 ? 'its' : 'their'} own (${whyNoCgroup().reason}): not shown\n`,
      );
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
    if (options.format === 'json') {
      process.stdout.write(
        `${JSON.stringify(
          rows.map((r) => statsJson(r, hostMemory)),
          null,
          2,
        )}\n`,
      );
    } else {
      process.stdout.write(`${tty ? '\x1b[2J\x1b[H' : ''}${tabulate(statsTable(rows, hostMemory))}`);
    }
    if (!options.stream) return;
    await sleep(options.interval * 1000);
  }
}
