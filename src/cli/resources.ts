// pause, unpause, stats and update: the verbs on a container's cgroup. Flags to
// typed options, the verbs' results (src/verbs) to podman's output.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import { addLimitFlags, limitsFromOptions, type LimitOptionValues } from './cgroup-flags.js';
import { containerGroup } from './containers.js';
import { print, printOutcomes } from './output.js';

function seconds(value: string): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || number <= 0) {
    throw new HutchError(`invalid --interval ${JSON.stringify(value)}`, { hint: 'give a number of seconds' });
  }
  return number;
}

interface FreezeFlagValues {
  all?: boolean;
  latest?: boolean;
  cidfile: string[];
  filter: string[];
}

/** pause and unpause: the same flags, podman's. */
function addFreezeVerb(parent: Command, verb: 'pause' | 'unpause'): void {
  parent
    .command(verb)
    .description(
      verb === 'pause'
        ? 'pause every process of one or more containers (cgroup freezer)'
        : 'resume the processes of paused containers',
    )
    .argument('[container...]', 'names or ids')
    .option('-a, --all', verb === 'pause' ? 'every running container' : 'every paused container')
    .option('-l, --latest', 'act on the container created last')
    .option('--cidfile <file>', 'read the container id from this file (repeatable)', collect, [])
    .option('-f, --filter <KEY=VALUE>', 'act on the containers that match KEY=VALUE (repeatable)', collect, [])
    .action(async (names: string[], o: FreezeFlagValues) => {
      const verbs = await import('../verbs/pause.js');
      const options = {
        names,
        all: o.all === true,
        latest: o.latest === true,
        cidfiles: o.cidfile,
        filters: o.filter,
      };
      await printOutcomes(verbs[verb](options), (name) => `${name}\n`, 'first');
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

export function registerResources(program: Command): void {
  for (const parent of [program, containerGroup(program)]) {
    addFreezeVerb(parent, 'pause');
    addFreezeVerb(parent, 'unpause');
    addStats(parent);
    addUpdate(parent);
  }
}

function addStats(program: Command): void {
  program
    .command('stats')
    .description('show the resource usage of containers (all running ones by default)')
    .argument('[container...]', 'names or ids')
    .option('--no-stream', 'print one reading and exit')
    .option('--format <format>', 'json (default: a table)')
    .option('-i, --interval <seconds>', 'seconds between readings', seconds, 5)
    .action(async (names: string[], o: { stream: boolean; format?: string; interval: number }) => {
      if (o.format !== undefined && o.format !== 'json') {
        throw new HutchError(`unsupported --format ${o.format}`, { hint: 'use json' });
      }
      const { stats } = await import('../verbs/stats.js');
      const { statsJson, statsTable } = await import('./format/stats.js');
      const { tabulate } = await import('./format/table.js');
      // A terminal shows the latest reading only: each one clears the screen first.
      const clear = process.stdout.isTTY === true && o.stream && o.format === undefined ? '\x1b[2J\x1b[H' : '';
      for await (const reading of stats(names, { stream: o.stream, interval: o.interval })) {
        const { rows, hostMemory, notShown } = reading;
        if (notShown !== undefined) {
          const { count, reason } = notShown;
          process.stderr.write(
            `hutch stats: ${count} running container${count === 1 ? ' has' : 's have'} no cgroup of ${count === 1 ? 'its' : 'their'} own (${reason}): not shown\n`,
          );
        }
        if (o.format === 'json') {
          print(
            `${JSON.stringify(
              rows.map((r) => statsJson(r, hostMemory)),
              null,
              2,
            )}\n`,
          );
        } else print(`${clear}${tabulate(statsTable(rows, hostMemory))}`);
      }
    });
}

function addUpdate(program: Command): void {
  addLimitFlags(program.command('update'))
    .description('change the resource limits of a running container')
    .argument('<container>', 'name or id')
    .action(async (name: string, o: LimitOptionValues) => {
      const limits = limitsFromOptions(o);
      const { update } = await import('../verbs/update.js');
      print(`${await update(name, limits)}\n`);
    });
}
