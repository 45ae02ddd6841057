import { explain } from '../explain.js';
import { readUsernsFacts } from '../host/userns.js';

/** Prints an error as podman does (`Error: …`), plus a hint; returns the exit status. */
export function reportError(error: unknown): number {
  const explained = explain(error, readUsernsFacts());
  process.stderr.write(`Error: ${explained.line}\n`);
  if (explained.hint !== undefined) process.stderr.write(`hint: ${explained.hint}\n`);
  if (process.env.HUTCH_DEBUG === '1' && error instanceof Error) process.stderr.write(`${error.stack ?? ''}\n`);
  return explained.exitCode;
}
