// pause, unpause, stats and update: the verbs on a container's cgroup. Flags to typed options, nothing else.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import { addLimitFlags, limitsFromOptions, type LimitOptionValues } from './cgroup-flags.js';

function seconds(value: string): number {
  const number = Number(value);
  if (!/^\d+(\.\d+)?$/.test(value) || number <= 0) {
    throw new HutchError(`invalid --interval ${JSON.stringify(value)}`, { hint: 'give a number of seconds' });
  }
  return number;
}

export function registerResources(program: Command): void {
  program
    .command('pause')
    .description('pause every process of one or more containers (cgroup freezer)')
    .argument('<container...>', 'names or ids')
    .action(async (names: string[]) => {
      const { pauseVerb } = await import('../run/cgroups/verbs.js');
      await pauseVerb(names);
    });

  program
    .command('unpause')
    .description('resume the processes of paused containers')
    .argument('<container...>', 'names or ids')
    .action(async (names: string[]) => {
      const { unpauseVerb } = await import('../run/cgroups/verbs.js');
      await unpauseVerb(names);
    });

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
      const { statsVerb } = await import('../run/cgroups/verbs.js');
      await statsVerb(names, {
        stream: o.stream,
        format: o.format === 'json' ? 'json' : 'table',
        interval: o.interval,
      });
    });

  addLimitFlags(program.command('update'))
    .description('change the resource limits of a running container')
    .argument('<container>', 'name or id')
    .action(async (name: string, o: LimitOptionValues) => {
      const limits = limitsFromOptions(o);
      const { updateVerb } = await import('../run/cgroups/verbs.js');
      await updateVerb(name, limits);
    });
}
