// The container verbs: flags to typed options, the verb's result to podman's output.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import { addNetworkFlags, networkFlags, type NetworkFlagValues } from './network-flags.js';
import { addLimitFlags, limitsFromOptions, type LimitOptionValues } from './cgroup-flags.js';
import { addLogFlags, logFlags, type LogFlagValues } from './log-flags.js';
import { parseUlimits } from '../run/rlimits.js';
import { parseBool } from './registry.js';
import { createReporting, print, printOutcomes, processStdio } from './output.js';

/** The name as given, one per line: what podman prints for each container a verb acted on. */
const nameLine = (name: string): string => `${name}\n`;

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

function integer(flag: string): (value: string) => number {
  return (value) => {
    if (!/^\d+$/.test(value))
      throw new HutchError(`invalid ${flag} ${JSON.stringify(value)}`, { hint: 'give a whole number' });
    return Number(value);
  };
}

interface ContainerFlagValues extends NetworkFlagValues, LimitOptionValues, LogFlagValues {
  name?: string;
  env: string[];
  envFile: string[];
  user?: string;
  groupAdd: string[];
  workdir?: string;
  entrypoint?: string;
  volume: string[];
  mount: string[];
  tmpfs: string[];
  readOnly?: boolean;
  hostname?: string;
  init?: boolean;
  capAdd: string[];
  capDrop: string[];
  securityOpt: string[];
  privileged?: boolean;
  userns?: string;
  tty?: boolean;
  interactive?: boolean;
  rm?: boolean;
  stopSignal?: string;
  stopTimeout?: number;
  label: string[];
  pull: string;
  tlsVerify: boolean;
  detach?: boolean;
  ulimit: string[];
}

/** The flags `run` and `create` share, as podman spells them. */
function containerFlags(command: Command): Command {
  return addLogFlags(addLimitFlags(addNetworkFlags(command)))
    .option('--name <name>', 'a name for the container')
    .option(
      '-e, --env <KEY=VALUE>',
      'set an environment variable (repeatable; KEY alone takes the host value)',
      collect,
      [],
    )
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
    .option('-u, --user <user[:group]>', 'run as this user (name or uid, from the image)')
    .option('--group-add <group>', 'an additional group (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'the working directory inside the container')
    .option('--entrypoint <command>', "replace the image's entrypoint ('' clears it)")
    .option('-v, --volume <src:dst[:opts]>', 'bind mount a host path or a named volume (repeatable)', collect, [])
    .option('--mount <type=…,…>', 'a bind, volume or tmpfs mount, docker style (repeatable)', collect, [])
    .option('--tmpfs <dst[:opts]>', 'mount a tmpfs (repeatable)', collect, [])
    .option('--read-only', 'mount the root file system read-only')
    .option('-h, --hostname <name>', 'the container host name')
    .option('--init', 'run a minimal init as pid 1 that reaps zombies and forwards signals')
    .option('--cap-add <cap>', 'add a capability (repeatable)', collect, [])
    .option('--cap-drop <cap>', 'drop a capability (repeatable)', collect, [])
    .option(
      '--security-opt <opt>',
      'seccomp=PROFILE.json|unconfined, no-new-privileges[=false] (repeatable)',
      collect,
      [],
    )
    .option('--privileged', 'every capability, no seccomp filter, no masked paths')
    .option('--userns <mode>', 'keep-id: your own uid inside the container')
    .option('-t, --tty', 'allocate a pseudo-terminal')
    .option('-i, --interactive', 'keep stdin open')
    .option('--rm', 'remove the container when it exits')
    .option('--stop-signal <signal>', 'the signal that stops the container')
    .option('--stop-timeout <seconds>', 'seconds to wait before SIGKILL on stop', integer('--stop-timeout'))
    .option('-l, --label <key=value>', 'a label (repeatable)', collect, [])
    .option(
      '--ulimit <type=soft[:hard]>',
      'a resource limit set in the container: nofile, nproc, core, … (-1: as much as you have; host: yours; repeatable)',
      collect,
      [],
    )
    .option('--pull <policy>', 'missing, always or never', 'missing')
    .option(
      '--tls-verify [bool]',
      'for a pull: require HTTPS and verify certificates',
      parseBool('--tls-verify'),
      true,
    );
}

function toFlags(image: string, command: string[], o: ContainerFlagValues) {
  if (!['missing', 'always', 'never'].includes(o.pull)) {
    throw new HutchError(`invalid --pull ${o.pull}`, { hint: 'use missing, always or never' });
  }
  return {
    image,
    command,
    name: o.name,
    env: o.env,
    envFile: o.envFile,
    user: o.user,
    groupAdd: o.groupAdd,
    workdir: o.workdir,
    entrypoint: o.entrypoint,
    volume: o.volume,
    mount: o.mount,
    tmpfs: o.tmpfs,
    readOnly: o.readOnly === true,
    hostname: o.hostname,
    init: o.init === true,
    capAdd: o.capAdd,
    capDrop: o.capDrop,
    securityOpt: o.securityOpt,
    privileged: o.privileged === true,
    userns: o.userns,
    network: networkFlags(o),
    tty: o.tty === true,
    interactive: o.interactive === true,
    rm: o.rm === true,
    stopSignal: o.stopSignal,
    stopTimeout: o.stopTimeout,
    label: o.label,
    pull: o.pull as 'missing' | 'always' | 'never',
    tlsVerify: o.tlsVerify,
    resources: limitsFromOptions(o),
    log: logFlags(o),
    ulimits: parseUlimits(o.ulimit),
  };
}

export function registerContainers(program: Command): void {
  containerFlags(program.command('run'))
    .description('run a command in a new container')
    .argument('<image>', 'the image')
    .argument('[command...]', 'the command and its arguments (default: the image’s)')
    .option('-d, --detach', 'run in the background and print the container id')
    .passThroughOptions()
    .helpOption('--help', 'display help for command')
    .action(async (image: string, command: string[], o: ContainerFlagValues) => {
      const { run } = await import('../verbs/run.js');
      const outcome = await run(
        { ...toFlags(image, command, o), detach: o.detach === true },
        processStdio,
        createReporting,
      );
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
