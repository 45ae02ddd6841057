/**
 * The worker of test/fuzz/harness.ts: runs one target's property with
 * fast-check and posts every input before trying it (so that a hang can be
 * reported with its input), then the result.
 */
import { parentPort, workerData } from 'node:worker_threads';
import fc from 'fast-check';
import type { FuzzBudget } from './harness.js';
import { disposeTargets, targets, useRepo } from './targets.js';

const { target: name, budget, repo } = workerData as { target: string; budget: FuzzBudget; repo: string };
useRepo(repo);
const port = parentPort;
if (port === null) throw new Error('test/fuzz/worker.ts runs as a worker thread');
const target = targets[name];
if (target === undefined) throw new Error(`no fuzz target ${name}`);

/** An error as text: its class, message and where it was thrown. */
function describe(error: unknown): string {
  if (!(error instanceof Error)) return `thrown: ${String(error)}`;
  return `${error.name}: ${error.message}\n${(error.stack ?? '').split('\n').slice(1, 12).join('\n')}`;
}

/** How inputs ended, by kind (`ok`, or the error's class and the start of its message): shows how deep the fuzzer got. */
const outcomes = new Map<string, number>();
function tally(error: unknown): void {
  let kind = 'ok';
  if (error instanceof Error) {
    // The message without its variable parts: where (FILE:LINE:COLUMN), quoted names, numbers.
    const message = error.message
      .replace(/^\S+:\d+:\d+: /, '')
      .replace(/"[^"]*"|'[^']*'|`[^`]*`|\d+/g, '…')
      .slice(0, 80);
    kind = `${error.name}: ${message}`;
  } else if (error !== undefined) {
    kind = 'thrown';
  }
  outcomes.set(kind, (outcomes.get(kind) ?? 0) + 1);
}

const property = fc.asyncProperty(target.arbitrary, async (input) => {
  port.postMessage({ kind: 'input', input: target.show(input) });
  const started = performance.now();
  try {
    await target.run(input);
    tally(undefined);
  } catch (error) {
    if (!target.accept(error)) throw error;
    tally(error);
  }
  const ms = performance.now() - started;
  if (ms > budget.perRunMs) throw new Error(`one input took ${Math.round(ms)} ms (limit ${budget.perRunMs} ms)`);
});

const details = await fc.check(property, {
  numRuns: budget.runs,
  interruptAfterTimeLimit: budget.seconds * 1000,
  markInterruptAsFailure: false,
  // A promise that never settles is a hang too.
  timeout: budget.perRunMs * 2,
  ...(budget.seed === undefined ? {} : { seed: budget.seed }),
});

disposeTargets();
port.postMessage({
  kind: 'done',
  report: {
    failed: details.failed,
    interrupted: details.interrupted,
    numRuns: details.numRuns,
    numShrinks: details.numShrinks,
    seed: details.seed,
    path: details.counterexamplePath ?? undefined,
    counterexample: details.counterexample === null ? undefined : target.show(details.counterexample[0]),
    error: details.failed ? describe(details.errorInstance) : undefined,
    outcomes: [...outcomes].sort((a, b) => b[1] - a[1]),
  },
});
