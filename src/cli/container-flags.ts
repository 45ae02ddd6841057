// The flags `run` and `create` share, as podman 4.3 spells them (with its old
// names, hidden: --net, --dns-opt, --healthcheck-*), and their values as the
// typed flags of src/run/container/create.ts, which checks them.
import { Option, type Command } from 'commander';
import { HutchError } from '../errors.js';
import type { CreateFlags, RunFlags } from '../run/container/create.js';
import { parseUlimits } from '../run/rlimits.js';
import { addLimitFlags, limitsFromOptions, type LimitOptionValues } from './cgroup-flags.js';
import { addLogFlags, logFlags, type LogFlagValues } from './log-flags.js';
import { addNetworkFlags, networkFlags, type NetworkFlagValues } from './network-flags.js';
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

/** What commander gives for the flags of containerFlags. */
export interface ContainerFlagValues extends NetworkFlagValues, LimitOptionValues, LogFlagValues {
  name?: string;
  env: string[];
  envFile: string[];
  envHost?: boolean;
  user?: string;
  groupAdd: string[];
  workdir?: string;
  entrypoint?: string;
  volume: string[];
  mount: string[];
  tmpfs: string[];
  volumesFrom: string[];
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
  attach: string[];
  rm?: boolean;
  replace?: boolean;
  restart?: string;
  stopSignal?: string;
  stopTimeout?: number;
  timeout?: number;
  tz?: string;
  cidfile?: string;
  label: string[];
  pull: string;
  tlsVerify: boolean;
  detach?: boolean;
  ulimit: string[];
  healthCmd?: string;
  healthInterval?: string;
  healthRetries?: string;
  healthTimeout?: string;
  healthStartPeriod?: string;
  healthOnFailure?: string;
  healthcheckCommand?: string;
  healthcheckInterval?: string;
  healthcheckRetries?: string;
  healthcheckTimeout?: string;
  healthcheckStartPeriod?: string;
  healthcheck?: boolean;
  preserveFds?: number;
}

/** A hidden flag of podman's older name, read as the new one (pflag's normalization in podman). */
function alias(flags: string, description: string): Option {
  return new Option(flags, description).hideHelp();
}

function addHealthFlags(command: Command): Command {
  return command
    .option('--health-cmd <command>', "the healthcheck: a shell command or a JSON argv ('none' turns it off)")
    .option('--health-interval <duration>', 'time between checks (default 30s; disable: none run by themselves)')
    .option('--health-retries <n>', 'failures in a row that make the container unhealthy (default 3)')
    .option('--health-timeout <duration>', 'the most a check may take (default 30s)')
    .option('--health-start-period <duration>', 'failures in this time after start do not count (default 0s)')
    .option('--health-on-failure <action>', 'when unhealthy: none (default), kill, restart or stop')
    .option('--no-healthcheck', "no healthcheck, not even the image's")
    .addOption(alias('--healthcheck-command <command>', 'the same as --health-cmd'))
    .addOption(alias('--healthcheck-interval <duration>', 'the same as --health-interval'))
    .addOption(alias('--healthcheck-retries <n>', 'the same as --health-retries'))
    .addOption(alias('--healthcheck-timeout <duration>', 'the same as --health-timeout'))
    .addOption(alias('--healthcheck-start-period <duration>', 'the same as --health-start-period'));
}

/** The flags `run` and `create` share. */
export function containerFlags(command: Command): Command {
  return addHealthFlags(addLogFlags(addLimitFlags(addNetworkFlags(command))))
    .option('--name <name>', 'a name for the container')
    .option('--replace', 'remove a container of the same name first (stopped with its stop signal and timeout)')
    .option(
      '-e, --env <KEY=VALUE>',
      'set an environment variable (repeatable; KEY alone takes the host value)',
      collect,
      [],
    )
    .option('--env-file <file>', 'read environment variables from a file (repeatable)', collect, [])
    .option('--env-host', 'every variable of your environment (under --env-file and -e)')
    .option('-u, --user <user[:group]>', 'run as this user (name or uid, from the image)')
    .option('--group-add <group>', 'an additional group (repeatable)', collect, [])
    .option('-w, --workdir <dir>', 'the working directory inside the container')
    .option('--entrypoint <command>', "replace the image's entrypoint ('' clears it)")
    .option('-v, --volume <src:dst[:opts]>', 'bind mount a host path or a named volume (repeatable)', collect, [])
    .option('--mount <type=…,…>', 'a bind, volume or tmpfs mount, docker style (repeatable)', collect, [])
    .option('--tmpfs <dst[:opts]>', 'mount a tmpfs (repeatable)', collect, [])
    .option(
      '--volumes-from <container[:ro|rw]>',
      "another container's volumes and binds, at the same places (repeatable)",
      collect,
      [],
    )
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
    .option('-a, --attach <stream>', 'stdout or stderr: relay only these (repeatable; stdin is -i)', collect, [])
    .option('--rm', 'remove the container when it exits')
    .option(
      '--restart <policy>',
      'no (default), always, unless-stopped or on-failure[:N]: start it again when it exits',
    )
    .option('--stop-signal <signal>', 'the signal that stops the container')
    .option('--stop-timeout <seconds>', 'seconds to wait before SIGKILL on stop', integer('--stop-timeout'))
    .option('--timeout <seconds>', 'kill the container this long after each start (exit code -1)', integer('--timeout'))
    .option('--tz <zone>', "the container's time zone: Europe/Paris, UTC…, or local (yours)")
    .option('--cidfile <file>', "write the container's id to this file (which must not exist)")
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

/** `run` alone: the caller's fds go with it. */
export function runOnlyFlags(command: Command): Command {
  return command.option(
    '--preserve-fds <n>',
    'hand your fds 3…3+N-1 to the container as its own',
    integer('--preserve-fds'),
  );
}

const STREAMS = ['stdin', 'stdout', 'stderr'] as const;

function attachStreams(values: string[]): RunFlags['attach'] {
  return values.map((value) => {
    if (!(STREAMS as readonly string[]).includes(value.toLowerCase())) {
      throw new HutchError(
        `invalid stream "${value}" for --attach - must be one of stdin, stdout, or stderr: invalid argument`,
      );
    }
    return value.toLowerCase() as (typeof STREAMS)[number];
  });
}

export function toFlags(image: string, command: string[], o: ContainerFlagValues): CreateFlags {
  if (!['missing', 'always', 'never'].includes(o.pull)) {
    throw new HutchError(`invalid --pull ${o.pull}`, { hint: 'use missing, always or never' });
  }
  return {
    image,
    command,
    name: o.name,
    env: o.env,
    envFile: o.envFile,
    envHost: o.envHost === true,
    user: o.user,
    groupAdd: o.groupAdd,
    workdir: o.workdir,
    entrypoint: o.entrypoint,
    volume: o.volume,
    mount: o.mount,
    tmpfs: o.tmpfs,
    volumesFrom: o.volumesFrom,
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
    replace: o.replace === true,
    restart: o.restart,
    stopSignal: o.stopSignal,
    stopTimeout: o.stopTimeout,
    timeout: o.timeout,
    tz: o.tz,
    cidfile: o.cidfile,
    label: o.label,
    pull: o.pull as 'missing' | 'always' | 'never',
    tlsVerify: o.tlsVerify,
    resources: limitsFromOptions(o),
    log: logFlags(o),
    ulimits: parseUlimits(o.ulimit),
    health: {
      cmd: o.healthCmd ?? o.healthcheckCommand,
      interval: o.healthInterval ?? o.healthcheckInterval,
      retries: o.healthRetries ?? o.healthcheckRetries,
      timeout: o.healthTimeout ?? o.healthcheckTimeout,
      startPeriod: o.healthStartPeriod ?? o.healthcheckStartPeriod,
      onFailure: o.healthOnFailure,
      // commander's --no-healthcheck: healthcheck is false when given.
      disabled: o.healthcheck === false,
    },
  };
}

/** `run`'s flags: create's, -d, -a and --preserve-fds. */
export function toRunFlags(image: string, command: string[], o: ContainerFlagValues): RunFlags {
  return {
    ...toFlags(image, command, o),
    detach: o.detach === true,
    attach: attachStreams(o.attach),
    preserveFds: o.preserveFds ?? 0,
  };
}

/** `create` checks -a as run does; what it attaches to is a later start's. */
export function checkCreateAttach(o: ContainerFlagValues): void {
  attachStreams(o.attach);
}
