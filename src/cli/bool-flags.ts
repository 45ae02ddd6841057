// pflag's spelling of a boolean flag with a value (`--archive=false`, `-a=false`), which
// podman's users and scripts write and commander does not parse: rewritten, before
// commander sees the arguments, into `--archive` or `--no-archive`.
import type { Command } from 'commander';
import { HutchError } from '../errors.js';

export interface BoolFlag {
  long: string;
  short?: string;
}

/** strconv.ParseBool's spellings, which pflag accepts. */
function parseBoolText(text: string, flag: BoolFlag): boolean {
  if (['1', 't', 'T', 'TRUE', 'true', 'True'].includes(text)) return true;
  if (['0', 'f', 'F', 'FALSE', 'false', 'False'].includes(text)) return false;
  const names = flag.short === undefined ? `--${flag.long}` : `-${flag.short}, --${flag.long}`;
  throw new HutchError(
    `invalid argument ${JSON.stringify(text)} for "${names}" flag: strconv.ParseBool: parsing ${JSON.stringify(text)}: invalid syntax`,
  );
}

/** The arguments with every `--FLAG=BOOL` and `-F=BOOL` of flags made `--FLAG` or `--no-FLAG`. */
export function rewriteBoolValues(argv: readonly string[], flags: readonly BoolFlag[]): string[] {
  const out: string[] = [];
  for (const [i, arg] of argv.entries()) {
    if (arg === '--') {
      out.push(...argv.slice(i));
      break;
    }
    const match = /^(--[A-Za-z0-9][A-Za-z0-9-]*|-[A-Za-z])=(.*)$/.exec(arg);
    const flag =
      match === null
        ? undefined
        : flags.find((f) => match[1] === `--${f.long}` || (f.short !== undefined && match[1] === `-${f.short}`));
    if (match === null || flag === undefined) {
      out.push(arg);
      continue;
    }
    out.push(parseBoolText(match[2] as string, flag) ? `--${flag.long}` : `--no-${flag.long}`);
  }
  return out;
}

/**
 * Makes command take `--FLAG=BOOL` for each of flags (each defined with its
 * `--no-FLAG` too). commander calls parseOptions with the command's own
 * arguments, after the program's: the rewrite sees no other verb's.
 */
export function acceptBoolValues(command: Command, flags: readonly BoolFlag[]): Command {
  const parse = command.parseOptions.bind(command);
  command.parseOptions = (argv: string[]) => parse(rewriteBoolValues(argv, flags));
  return command;
}
