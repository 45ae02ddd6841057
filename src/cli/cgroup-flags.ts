// The resource limit flags of run, create, update and build, as podman spells them.
import type { Command } from 'commander';
import { limitsFromFlags, type LimitFlagValues, type Limits } from '../run/cgroups/limits.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** What commander collects for the limit flags (--device-read-bps always, as a list). */
export type LimitOptionValues = LimitFlagValues & { deviceReadBps: string[] };

/** Adds the limit flags to `command`; read them back with limitsFromOptions. */
export function addLimitFlags(command: Command): Command {
  return command
    .option('-m, --memory <bytes>', 'memory limit (e.g. 512m, 1g)')
    .option('--memory-swap <bytes>', 'memory plus swap limit; -1 for unlimited swap (default: twice --memory)')
    .option('--memory-reservation <bytes>', 'memory soft limit, a guarantee under pressure')
    .option('--cpus <number>', 'CPU time limit, in CPUs (e.g. 0.5)')
    .option('-c, --cpu-shares <shares>', 'relative CPU weight, cgroup v1 scale (2-262144, default 1024)')
    .option('--cpu-weight <weight>', 'relative CPU weight, cgroup v2 scale (1-10000, default 100)')
    .option('--cpuset-cpus <cpus>', 'CPUs the container may run on (e.g. 0-2,4)')
    .option('--pids-limit <number>', 'maximum number of processes; -1 for none')
    .option('--blkio-weight <weight>', 'relative block I/O weight (10-1000)')
    .option(
      '--device-read-bps <device:rate>',
      'read rate limit on a block device, e.g. /dev/sda:1mb (repeatable)',
      collect,
      [],
    );
}

/** The flags as typed limits; a bad value is a HutchError naming the flag. */
export function limitsFromOptions(values: LimitOptionValues): Limits {
  return limitsFromFlags(values);
}
