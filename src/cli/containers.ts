// The container verbs: flags to typed options, the verb's result to podman's output.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import {
  checkCreateAttach,
  containerFlags,
  runOnlyFlags,
  toFlags,
  toRunFlags,
  type ContainerFlagValues,
} from './container-flags.js';
import { createReporting, print, printOutcomes, processStdio } from './output.js';

/** The name as given, one per line: what podman prints for each container a verb acted on. */
const nameLine = (name: string): string => `${name}\n`;

function integer(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value))
      throw new HutchError(`invalid ${flag} ${JSON.stringify(value)}`, { hint: 'give a whole number' });
    return Number(value);
  };
}

export function registerContainers(program: Command): void {
  runOnlyFlags(containerFlags(program.command('run')))
    .description('run a command in a new container')
    .argument('<image>', 'the image')
    .argument('[command...]', 'the command and its arguments (default: the image’s)')
    .option('-d, --detach', 'run in the background and print the container id')
    .passThroughOptions()
    .helpOption('--help', 'display help for command')
    .action(async (image: string, command: string[], o: ContainerFlagValues) => {
      const { run } = await import('../verbs/run.js');
      const outcome = await run(toRunFlags(image, command, o), processStdio, createReporting);
      if ('status' in outcome) process.exitCode = outcome.status;
      else {
        if (outcome.detached !== undefined) print(`${outcome.detached}\n`);
        process.exitCode = 0;
      }
    });

  containerFlags(program.command('create'))
    .description('create a container without starting it')
    .argument('<image>', 'the image')
    .argument('[command...]', 'the command and its arguments')
    .passThroughOptions()
    .helpOption('--help', 'display help for command')
    .action(async (image: string, command: string[], o: ContainerFlagValues) => {
      checkCreateAttach(o);
      const { create } = await import('../verbs/create.js');
      print(`${await create(toFlags(image, command, o), createReporting)}\n`);
    });

  program
    .command('start')
    .description('start one or more containers')
    .argument('<container...>', 'names or ids')
    .option('-a, --attach', 'attach to the container (one only) and exit with its status')
    .option('-i, --interactive', 'with --attach: attach stdin too')
    .action(async (names: string[], o: { attach?: boolean; interactive?: boolean }) => {
      const { start, startAttached } = await import('../verbs/start.js');
      if (o.attach === true) {
        process.exitCode = await startAttached(names, processStdio, { interactive: o.interactive === true });
        return;
      }
      await printOutcomes(start(names), nameLine, 'first');
      process.exitCode = 0;
    });

  program
    .command('stop')
    .description('stop one or more containers: their stop signal, then SIGKILL')
    .argument('<container...>', 'names or ids')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL (default 10)', integer('--time'))
    .action(async (names: string[], o: { time?: number }) => {
      const { stop } = await import('../verbs/stop.js');
      await printOutcomes(stop(names, o.time), nameLine, 'first');
    });

  program
    .command('kill')
    .description('send a signal to one or more containers')
    .argument('<container...>', 'names or ids')
    .option('-s, --signal <signal>', 'the signal (default KILL)', 'KILL')
    .action(async (names: string[], o: { signal: string }) => {
      const { kill } = await import('../verbs/kill.js');
      await printOutcomes(kill(names, o.signal), nameLine, 'first');
    });

  program
    .command('rm')
    .description('remove one or more containers')
    .argument('[container...]', 'names or ids')
    .option('-f, --force', 'kill and remove running containers')
    .option('-a, --all', 'every container')
    .option('-v, --volumes', 'also remove their anonymous volumes')
    .action(async (names: string[], o: { force?: boolean; all?: boolean; volumes?: boolean }) => {
      const { rm } = await import('../verbs/rm.js');
      const options = { force: o.force === true, all: o.all === true, volumes: o.volumes === true };
      await printOutcomes(rm(names, options), nameLine, 'first');
    });

  program
    .command('wait')
    .description('wait for containers to exit and print their exit codes')
    .argument('<container...>', 'names or ids')
    .action(async (names: string[]) => {
      const { wait } = await import('../verbs/wait.js');
      await printOutcomes(wait(names), (_name, exitCode) => `${exitCode}\n`, 'first');
    });

  program
    .command('ps')
    .description('list containers')
    .option('-a, --all', 'all containers, not only running ones')
    .option('-q, --quiet', 'ids only')
    .option('--no-trunc', 'full ids')
    .option('--format <format>', 'json (default: a table)')
    .action(async (o: { all?: boolean; quiet?: boolean; trunc?: boolean; format?: string }) => {
      if (o.format !== undefined && o.format !== 'json') {
        throw new HutchError(`unsupported --format ${o.format}`, { hint: 'use json' });
      }
      const { ps } = await import('../verbs/ps.js');
      const { formatPs, psJson } = await import('./format/ps.js');
      const containers = await ps({ all: o.all === true });
      if (o.format === 'json') print(`${JSON.stringify(containers.map(psJson), null, 2)}\n`);
      else print(formatPs(containers, { quiet: o.quiet === true, noTrunc: o.trunc === false }));
    });

  const container = program.command('container').description('manage containers');
  container
    .command('cleanup')
    .description('record the exit of containers, unmount them, and remove them if they were run with --rm')
    .argument('<container...>', 'names or ids')
    .action(async (names: string[]) => {
      const { cleanup } = await import('../verbs/cleanup.js');
      await printOutcomes(cleanup(names), () => undefined, 'first');
    });
}
