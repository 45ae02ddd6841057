// The container verbs: flags to typed options, nothing else.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';
import { addNetworkFlags, networkFlags, type NetworkFlagValues } from './network-flags.js';
import { addLimitFlags, limitsFromOptions, type LimitOptionValues } from './cgroup-flags.js';
import { addLogFlags, logFlags, type LogFlagValues } from './log-flags.js';
import { parseUlimits } from '../run/rlimits.js';
import { parseBool } from './registry.js';

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
      const { runContainer } = await import('../run/container/run.js');
      process.exitCode = await runContainer({ ...toFlags(image, command, o), detach: o.detach === true });
    });

  containerFlags(program.command('create'))
    .description('create a container without starting it')
    .argument('<image>', 'the image')
    .argument('[command...]', 'the command and its arguments')
    .passThroughOptions()
    .helpOption('--help', 'display help for command')
    .action(async (image: string, command: string[], o: ContainerFlagValues) => {
      const { createOnly } = await import('../run/container/verbs.js');
      process.stdout.write(`${await createOnly(toFlags(image, command, o))}\n`);
    });

  program
    .command('start')
    .description('start one or more containers')
    .argument('<container...>', 'names or ids')
    .option('-a, --attach', 'attach to the container (one only) and exit with its status')
    .option('-i, --interactive', 'with --attach: attach stdin too')
    .action(async (names: string[], o: { attach?: boolean; interactive?: boolean }) => {
      const { startVerb } = await import('../run/container/verbs.js');
      process.exitCode = await startVerb(names, { attach: o.attach === true, interactive: o.interactive === true });
    });

  program
    .command('stop')
    .description('stop one or more containers: their stop signal, then SIGKILL')
    .argument('<container...>', 'names or ids')
    .option('-t, --time <seconds>', 'seconds to wait before SIGKILL (default 10)', integer('--time'))
    .action(async (names: string[], o: { time?: number }) => {
      const { stopVerb } = await import('../run/container/verbs.js');
      await stopVerb(names, o.time);
    });

  program
    .command('kill')
    .description('send a signal to one or more containers')
    .argument('<container...>', 'names or ids')
    .option('-s, --signal <signal>', 'the signal (default KILL)', 'KILL')
    .action(async (names: string[], o: { signal: string }) => {
      const { killVerb } = await import('../run/container/verbs.js');
      await killVerb(names, o.signal);
    });

  program
    .command('rm')
    .description('remove one or more containers')
    .argument('[container...]', 'names or ids')
    .option('-f, --force', 'kill and remove running containers')
    .option('-a, --all', 'every container')
    .option('-v, --volumes', 'also remove their anonymous volumes')
    .action(async (names: string[], o: { force?: boolean; all?: boolean; volumes?: boolean }) => {
      const { removeVerb } = await import('../run/container/verbs.js');
      await removeVerb(names, { force: o.force === true, all: o.all === true, volumes: o.volumes === true });
    });

  program
    .command('wait')
    .description('wait for containers to exit and print their exit codes')
    .argument('<container...>', 'names or ids')
    .action(async (names: string[]) => {
      const { waitVerb } = await import('../run/container/verbs.js');
      await waitVerb(names);
    });

  program
    .command('ps')
    .description('list containers')
    .option('-a, --all', 'all containers, not only running ones')
    .option('-q, --quiet', 'ids only')
    .option('--no-trunc', 'full ids')
    .option('--format <format>', 'json (default: a table)')
    .action(async (o: { all?: boolean; quiet?: boolean; trunc?: boolean; format?: string }) => {
      const { psVerb } = await import('../run/container/verbs.js');
      await psVerb({ all: o.all === true, quiet: o.quiet === true, noTrunc: o.trunc === false, format: o.format });
    });

  const container = program.command('container').description('manage containers');
  container
    .command('cleanup')
    .description('record the exit of containers, unmount them, and remove them if they were run with --rm')
    .argument('<container...>', 'names or ids')
    .action(async (names: string[]) => {
      const { cleanupVerb } = await import('../run/container/verbs.js');
      await cleanupVerb(names);
    });
}
