import { explain } from '../explain.js';
import { readUsernsFacts } from '../host/userns.js';

/**
 * Whether the `hint:` line is printed: it is for people, so when stderr is a
 * terminal; scripts written for podman match its error line alone.
 * HUTCH_HINTS=1 asks for it anyway, HUTCH_HINTS=0 never.
 */
export function hintsWanted(env: NodeJS.ProcessEnv, stderrIsTerminal: boolean): boolean {
  if (env.HUTCH_HINTS === '1') return true;
  if (env.HUTCH_HINTS === '0') return false;
  return stderrIsTerminal;
}

/** Prints an error as podman does (`Error: …`), plus a hint for people; returns the exit status. */
export function reportError(error: unknown): number {
  const explained = explain(error, readUsernsFacts());
  process.stderr.write(`Error: ${explained.line}\n`);
  if (explained.hint !== undefined && hintsWanted(process.env, process.stderr.isTTY === true)) {
    process.stderr.write(`hint: ${explained.hint}\n`);
  }
  if (process.env.HUTCH_DEBUG === '1' && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
  return explained.exitCode;
}
