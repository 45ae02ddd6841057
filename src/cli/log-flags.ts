// The log flags of `run` and `create`, as podman spells them. The values become
// LogFlags; src/run/container/log-config.ts checks them (parseLogConfig).
import type { Command } from 'commander';
import type { LogFlags } from '../run/container/log-config.js';

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}

/** What commander gives for the flags addLogFlags adds. */
export interface LogFlagValues {
  logDriver?: string;
  logOpt: string[];
}

export function addLogFlags(command: Command): Command {
  return command
    .option(
      '--log-driver <driver>',
      'k8s-file (default), json-file (the same), none, or passthrough (the container gets your stdio)',
    )
    .option(
      '--log-opt <name=value>',
      'max-size=SIZE (rotate at SIZE: 10m, 1g), max-file=N (files kept), path=FILE, tag=TAG (repeatable)',
      collect,
      [],
    );
}

export function logFlags(values: LogFlagValues): LogFlags {
  return { driver: values.logDriver, opts: values.logOpt };
}
