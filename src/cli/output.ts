// What the verbs' results become on the terminal, shared by the verbs' modules:
// the process's own streams (the only place they are named), warnings, and
// the outcomes of the verbs over several names.
import type { Stdio } from '../run/container/attach.js';
import type { CreateReporting } from '../run/container/create.js';
import type { Outcome } from '../verbs/outcomes.js';
import { logEnabled } from './log.js';

/**
 * The process's stdin, stdout and stderr for the verbs that relay a
 * container's I/O. Getters: node makes each stream on first use (process.stdin
 * loads node:fs's streams; with the passthrough log driver the container
 * shares our descriptors), so a verb touches only those it uses, as it did
 * when it named them itself.
 */
export const processStdio: Stdio = {
  get stdin() {
    return process.stdin;
  },
  stdinFd: 0,
  get stdout() {
    return process.stdout;
  },
  get stderr() {
    return process.stderr;
  },
};

/** Writes to stdout. */
export function print(text: string): void {
  process.stdout.write(text);
}

/** One `warning: …` line on stderr (none with --log-level error and above). */
export function warn(message: string): void {
  if (logEnabled('warn')) process.stderr.write(`warning: ${message}\n`);
}

/**
 * Where a pull's progress goes (bars when stderr is a terminal), warnings, and
 * the name of a container --replace removed (podman prints it), for create and run.
 */
export const createReporting: CreateReporting = {
  get progress() {
    return process.stderr;
  },
  onWarning: warn,
  onReplaced: (name) => print(`${name}\n`),
};

/**
 * Prints a line per name done, as it is done; the command then fails with
 * one failure, the others on stderr as `Error: …`: the first failure (stop,
 * kill, rm, start, wait, pause…: podman reports the rest as they come) or the
 * last (restart, volume rm: each failure is reported when the next one comes).
 */
export async function printOutcomes<T>(
  outcomes: AsyncIterable<Outcome<T>>,
  line: (name: string, value: T) => string | undefined,
  failWith: 'first' | 'last',
): Promise<void> {
  let kept: unknown;
  for await (const outcome of outcomes) {
    if ('error' in outcome) {
      if (failWith === 'first') {
        if (kept !== undefined) process.stderr.write(`Error: ${(outcome.error as Error).message}\n`);
        kept ??= outcome.error;
      } else {
        if (kept !== undefined) process.stderr.write(`Error: ${(kept as Error).message}\n`);
        kept = outcome.error;
      }
      continue;
    }
    const text = line(outcome.name, outcome.value);
    if (text !== undefined) process.stdout.write(text);
  }
  if (kept !== undefined) throw kept;
}
