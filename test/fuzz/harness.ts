/**
 * Runs a fuzz target (test/fuzz/targets.ts) under fast-check in a worker
 * thread, bounded in runs and in time, and watched from here: a parser stuck
 * in a loop cannot be interrupted from its own thread, but the worker can be
 * terminated, and the input it was given last is reported.
 *
 * The budget of each property: HUTCH_FUZZ_SECONDS (default 3) and
 * HUTCH_FUZZ_RUNS (default: the target's own count), so that CI spends a few
 * seconds each and a longer hunt is one variable away:
 *
 *   HUTCH_FUZZ_SECONDS=600 HUTCH_FUZZ_RUNS=10000000 npx vitest run test/fuzz
 *
 * HUTCH_FUZZ_SEED replays a run (each report prints its seed).
 */
import { Worker } from 'node:worker_threads';
import { repoRoot } from '../helpers/requires.js';
import { runnerBundle } from '../helpers/bundle.js';

export interface FuzzBudget {
  /** fast-check's numRuns. */
  runs: number;
  /** The property stops generating after this long (fast-check's interruptAfterTimeLimit). */
  seconds: number;
  /** One input taking longer than this is a failure (a parser that slows down like this hangs on a bigger one). */
  perRunMs: number;
  seed: number | undefined;
}

export function fuzzBudget(defaultRuns: number): FuzzBudget {
  const number = (name: string, fallback: number) => {
    const text = process.env[name];
    if (text === undefined || text === '') return fallback;
    const value = Number(text);
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}=${text} is not a positive number`);
    return value;
  };
  const seed = process.env.HUTCH_FUZZ_SEED;
  return {
    runs: Math.floor(number('HUTCH_FUZZ_RUNS', defaultRuns)),
    seconds: number('HUTCH_FUZZ_SECONDS', 3),
    perRunMs: number('HUTCH_FUZZ_PER_RUN_MS', 2000),
    seed: seed === undefined || seed === '' ? undefined : Number(seed),
  };
}

/** The vitest timeout for a property with this budget: its time, shrinking, the bundle, and the watchdog's margin. */
export function testTimeout(budget: FuzzBudget): number {
  return budget.seconds * 1000 * 2 + budget.perRunMs * 4 + 60_000;
}

export interface FuzzReport {
  target: string;
  numRuns: number;
  seed: number;
  interrupted: boolean;
  ms: number;
  /** Undefined when every input ended well; else what went wrong, with the (shrunk) input. */
  failure: string | undefined;
  /** How the inputs ended (ok, or which error), most frequent first. */
  outcomes: [string, number][];
}

interface WorkerReport {
  failed: boolean;
  interrupted: boolean;
  numRuns: number;
  numShrinks: number;
  seed: number;
  path: string | undefined;
  counterexample: string | undefined;
  error: string | undefined;
  outcomes: [string, number][];
}

/** Runs `target` within `budget`; resolves with what happened, a hang included. */
export async function fuzz(target: string, budget: FuzzBudget): Promise<FuzzReport> {
  // test/fuzz/worker.ts and what it imports as one ES module (the worker cannot load TypeScript).
  const file = runnerBundle('fuzz-worker');
  const started = Date.now();
  const worker = new Worker(file, { workerData: { target, budget, repo: repoRoot } });
  let last: string | undefined;
  return new Promise<FuzzReport>((resolve, reject) => {
    const deadline = budget.seconds * 1000 * 2 + budget.perRunMs * 4 + 5000;
    const watchdog = setTimeout(() => {
      void worker.terminate();
      resolve({
        target,
        numRuns: -1,
        seed: budget.seed ?? -1,
        interrupted: true,
        ms: Date.now() - started,
        failure: `no answer after ${deadline} ms: the parser hangs; the input it was given last:\n${last ?? '(none yet)'}`,
        outcomes: [],
      });
    }, deadline);
    worker.on('message', (message: { kind: 'input'; input: string } | { kind: 'done'; report: WorkerReport }) => {
      if (message.kind === 'input') {
        last = message.input;
        return;
      }
      clearTimeout(watchdog);
      const r = message.report;
      void worker.terminate();
      resolve({
        target,
        numRuns: r.numRuns,
        seed: r.seed,
        interrupted: r.interrupted,
        ms: Date.now() - started,
        failure: r.failed
          ? `${r.error ?? 'failed'}\nafter ${r.numRuns} runs and ${r.numShrinks} shrinks; ` +
            `replay: HUTCH_FUZZ_SEED=${r.seed} (path ${r.path ?? '?'})\ninput:\n${r.counterexample ?? '?'}`
          : undefined,
        outcomes: r.outcomes,
      });
    });
    worker.on('error', (error) => {
      clearTimeout(watchdog);
      reject(error);
    });
  });
}

/** For the test log: how much was tried, and how the inputs ended (the most frequent endings). */
export function summary(report: FuzzReport): string {
  const total = report.outcomes.reduce((n, [, count]) => n + count, 0) || 1;
  const shown = report.outcomes.slice(0, 8);
  const ok = report.outcomes.find(([kind]) => kind === 'ok');
  if (ok !== undefined && !shown.includes(ok)) shown.push(ok);
  const endings = shown.map(([kind, count]) => `  ${((100 * count) / total).toFixed(1).padStart(5)}% ${kind}`);
  return [
    `fuzz ${report.target}: ${report.numRuns} inputs in ${(report.ms / 1000).toFixed(1)} s${report.interrupted ? ' (time budget reached)' : ''}, seed ${report.seed}`,
    ...endings,
  ].join('\n');
}
