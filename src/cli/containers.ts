// The container verbs: flags to typed options, the verb's result to podman's output.
import { Option, type Command } from 'commander';
import { HutchError } from '../errors.js';
import {
  checkCreateAttach,
  containerFlags,
  runOnlyFlags,
  toFlags,
  toRunFlags,
  type ContainerFlagValues,
} from './container-flags.js';
import { createReporting, print, printOutcomes, processStdio, warn } from './output.js';

/** The name as given, one per line: what podman prints for each container a verb acted on. */
const nameLine = (name: string): string => `${name}\n`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** `hutch container`: made by the first module that mounts a verb there. */
export function containerGroup(program: Command): Command {
  return (
    program.commands.find((c) => c.name() === 'container') ??
    program.command('container').description('manage containers')
  );
}

/** The flags that pick containers (src/verbs/targets.ts), as each verb of podman has them. */
interface TargetFlagValues {
  all?: boolean;
  latest?: boolean;
  cidfile: string[];
  filter: string[];
  ignore?: boolean;
}

function targetOptions(names: string[], o: Partial<TargetFlagValues>) {
  return {
    names,
    all: o.all === true,
    latest: o.latest === true,
    cidfiles: o.cidfile ?? [],
    filters: o.filter ?? [],
    ignore: o.ignore === true,
  };
}

const LATEST = 'act on the container created last';
const CIDFILE = 'read the container id from this file (repeatable)';
const FILTER = 'act on the containers that match KEY=VALUE (repeatable; the keys of ps --filter)';

/** podman's uint flags: `invalid argument "-1" for "-t, --time" flag`. */
function seconds(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value)) {
      throw new HutchError(
        `invalid argument ${JSON.stringify(value)} for "${flag}" flag: not a whole number of seconds`,
      );
    }
    return Number(value);
  };
}

function addRun(parent: Command): void {
  runOnlyFlags(containerFlags(parent.command('run')))
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
}

function addCreate(parent: Command): void {
  containerFlags(parent.command('create'))
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
}

function addStart(parent: Command): void {
  parent
    .command('start')
    .description('start one or more containers')
    .argument('[container...]', 'names or ids')
    .option('--all', 'every container, whatever its state')
    .option('-a, --attach', 'attach to the container (one only) and exit with its status')
    .option('-i, --interactive', 'with --attach: attach stdin too')
    .option('-l, --latest', LATEST)
    .option('-f, --filter <KEY=VALUE>', FILTER, collect, [])
    .action(async (names: string[], o: TargetFlagValues & { attach?: boolean; interactive?: boolean }) => {
      const { start, startAttached } = await import('../verbs/start.js');
      if (o.attach === true) {
        process.exitCode = await startAttached(names, processStdio, { interactive: o.interactive === true });
        return;
      }
      await printOutcomes(start(targetOptions(names, o)), nameLine, 'first');
      process.exitCode = 0;
    });
}

function addStop(parent: Command): void {
  parent
    .command('stop')
    .description('stop one or more containers: their stop signal, then SIGKILL')
    .argument('[container...]', 'names or ids')
    .option('-a, --all', 'every container')
    .option('-l, --latest', LATEST)
    .option('--cidfile <file>', CIDFILE, collect, [])
    .option('-f, --filter <KEY=VALUE>', FILTER, collect, [])
    .option('-i, --ignore', 'a name that names no container is not an error')
    .option(
      '-t, --time <seconds>',
      'seconds to wait before SIGKILL (default: the stop timeout, 10)',
      seconds('-t, --time'),
    )
    .addOption(new Option('--timeout <seconds>', 'another name of --time').argParser(seconds('--timeout')).hideHelp())
    .action(async (names: string[], o: TargetFlagValues & { time?: number; timeout?: number }) => {
      const { stop } = await import('../verbs/stop.js');
      const options = { ...targetOptions(names, o), timeoutSeconds: o.time ?? o.timeout, onWarning: warn };
      await printOutcomes(stop(options), nameLine, 'first');
    });
}

function addKill(parent: Command): void {
  parent
    .command('kill')
    .description('send a signal to one or more containers')
    .argument('[container...]', 'names or ids')
    .option('-a, --all', 'every running container')
    .option('-l, --latest', LATEST)
    .option('--cidfile <file>', CIDFILE, collect, [])
    .option('-s, --signal <signal>', 'the signal (default KILL)', 'KILL')
    .action(async (names: string[], o: TargetFlagValues & { signal: string }) => {
      const { kill } = await import('../verbs/kill.js');
      await printOutcomes(kill({ ...targetOptions(names, o), signal: o.signal }), nameLine, 'first');
    });
}

function addRm(parent: Command): void {
  parent
    .command('rm')
    .description('remove one or more containers')
    .argument('[container...]', 'names or ids')
    .option('-a, --all', 'every container')
    .option('-l, --latest', LATEST)
    .option('--cidfile <file>', CIDFILE, collect, [])
    .option('--filter <KEY=VALUE>', FILTER, collect, [])
    .option('-f, --force', 'stop and remove running containers')
    .option('-i, --ignore', 'a name that names no container is not an error')
    .option(
      '-t, --time <seconds>',
      'with --force: seconds to wait before SIGKILL (default: the stop timeout, 10)',
      seconds('-t, --time'),
    )
    .option('--depend', 'also remove the containers that depend on them (--network container:NAME), first')
    .option('-v, --volumes', 'also remove their anonymous volumes')
    .action(
      async (
        names: string[],
        o: TargetFlagValues & { force?: boolean; volumes?: boolean; depend?: boolean; time?: number },
      ) => {
        const { rm } = await import('../verbs/rm.js');
        const options = {
          ...targetOptions(names, o),
          // podman: --force ignores missing names too.
          ignore: o.ignore === true || o.force === true,
          force: o.force === true,
          volumes: o.volumes === true,
          depend: o.depend === true,
          timeoutSeconds: o.time,
        };
        await printOutcomes(rm(options), nameLine, 'first');
      },
    );
}

function addWait(parent: Command): void {
  parent
    .command('wait')
    .description('wait for containers to exit and print their exit codes')
    .argument('[container...]', 'names or ids')
    .option('-l, --latest', LATEST)
    .action(async (names: string[], o: TargetFlagValues) => {
      const { wait } = await import('../verbs/wait.js');
      await printOutcomes(wait(targetOptions(names, o)), (_name, exitCode) => `${exitCode}\n`, 'first');
    });
}

interface PsFlagValues {
  all?: boolean;
  external?: boolean;
  filter: string[];
  format?: string;
  last?: number;
  latest?: boolean;
  trunc?: boolean;
  noheading?: boolean;
  ns?: boolean;
  pod?: boolean;
  quiet?: boolean;
  size?: boolean;
  sort: string;
}

function lastCount(value: string): number {
  if (!/^-?\d+$/.test(value))
    throw new HutchError(`invalid argument ${JSON.stringify(value)} for "-n, --last" flag: not a number`);
  return Number(value);
}

/** ps, and under `container` also list (ls) and ps: one definition. */
function addPs(parent: Command, name: string, aliases: string[] = []): void {
  parent
    .command(name)
    .aliases(aliases)
    .description('list containers')
    .option('-a, --all', 'all containers, not only running ones')
    .option(
      '--external',
      "containers in the store that hutch does not manage: there are none (hutch's build steps are not stored containers, and no other tool's are in its store), so it changes nothing",
    )
    .option(
      '-f, --filter <KEY=VALUE>',
      'id, name, label, exited, status, ancestor, before, since, until, volume, network, health, pod (repeatable)',
      collect,
      [],
    )
    .option('--format <format>', 'json, a Go template ({{.ID}} {{.Names}}), or table TEMPLATE')
    .option('-n, --last <count>', 'the N containers created last, whatever their state', lastCount)
    .option('-l, --latest', 'the container created last')
    .option('--no-trunc', 'full ids and commands')
    .option('--noheading', 'no heading row')
    .option('--ns', 'the namespaces of each container')
    .option('-p, --pod', 'the pod columns (hutch has no pods: they are empty)')
    .option('-q, --quiet', 'ids only')
    .option('-s, --size', 'the size of what each container wrote, and of its image')
    .option('--sort <key>', PS_SORT_HELP, 'created')
    .action(async (o: PsFlagValues) => {
      const { PS_SORT_KEYS, formatPs } = await import('./format/ps.js');
      if (!(PS_SORT_KEYS as readonly string[]).includes(o.sort)) {
        throw new HutchError(
          `invalid argument ${JSON.stringify(o.sort)} for "--sort" flag: ${JSON.stringify(o.sort)} is not a valid value.  Choose from: "${PS_SORT_KEYS.join(', ')}"`,
        );
      }
      if (o.quiet === true && (o.size === true || o.ns === true))
        throw new HutchError('quiet conflicts with size and namespace');
      if (o.size === true && o.ns === true) throw new HutchError('size and namespace options conflict');
      const { ps } = await import('../verbs/ps.js');
      const entries = await ps({
        all: o.all === true,
        filters: o.filter,
        last: o.last ?? -1,
        latest: o.latest === true,
        size: o.size === true,
        namespaces: o.ns === true,
      });
      print(
        formatPs(entries, {
          quiet: o.quiet === true,
          noTrunc: o.trunc === false,
          noHeading: o.noheading === true,
          size: o.size === true,
          pod: o.pod === true,
          namespaces: o.ns === true,
          format: o.format,
          sort: o.sort as (typeof PS_SORT_KEYS)[number],
        }),
      );
    });
}

const PS_SORT_HELP = 'sort by command, created, id, image, names, runningfor, size or status';

function addRename(parent: Command): void {
  parent
    .command('rename')
    .description('give a container another name')
    .argument('<container>', 'name or id')
    .argument('<name>', 'the new name')
    .action(async (container: string, name: string) => {
      const { rename } = await import('../verbs/rename.js');
      await rename(container, name);
    });
}

function addExists(parent: Command): void {
  parent
    .command('exists')
    .description('exit 0 when a container has this name or id, 1 when none has (nothing printed)')
    .argument('<container>', 'name or id')
    .option('--external', 'also containers hutch does not manage: there are none in its store, so it changes nothing')
    .action(async (container: string) => {
      const { containerExists } = await import('../verbs/container-exists.js');
      process.exitCode = (await containerExists(container)) ? 0 : 1;
    });
}

export function registerContainers(program: Command): void {
  const container = containerGroup(program);
  for (const parent of [program, container]) {
    for (const add of [addRun, addCreate, addStart, addStop, addKill, addRm, addWait, addRename]) add(parent);
  }
  addPs(program, 'ps');
  addPs(container, 'list', ['ls']);
  addPs(container, 'ps');
  addExists(container);
  container
    .command('cleanup')
    .description('record the exit of containers, unmount them, and remove them if they were run with --rm')
    .argument('<container...>', 'names or ids')
    .action(async (names: string[]) => {
      const { cleanup } = await import('../verbs/cleanup.js');
      await printOutcomes(cleanup(names), () => undefined, 'first');
    });
}
