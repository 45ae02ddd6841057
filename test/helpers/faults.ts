/**
 * What the fault and load tests look at from outside hutch: the processes a
 * sandbox's commands left, the mounts of its session's mount namespace, the
 * leftovers of its store; a seeded random source (the seed is printed so a
 * failure can be replayed), and a command killed with SIGKILL at a chosen moment.
 */
import { spawn } from 'node:child_process';
import { lstatSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { sessionPid, type Sandbox } from './hutch.js';
import { hutchBin } from './requires.js';

/** mulberry32: small, fast, and the same sequence for the same seed. */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface ProcessInfo {
  pid: number;
  argv: string[];
}

function readProc(pid: string, file: string): string | undefined {
  try {
    return readFileSync(`/proc/${pid}/${file}`, 'latin1');
  } catch {
    return undefined;
  }
}

/** Every live process of ours for which match(argv, environ) holds (zombies left out). */
export function processes(match: (argv: string[], environ: string[]) => boolean): ProcessInfo[] {
  const found: ProcessInfo[] = [];
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const stat = readProc(name, 'stat');
    if (stat === undefined) continue;
    const state = stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3);
    if (state === 'Z' || state === 'X') continue;
    const argv = (readProc(name, 'cmdline') ?? '').split('\0').filter((a) => a !== '');
    const environ = (readProc(name, 'environ') ?? '').split('\0');
    if (argv.length > 0 && match(argv, environ)) found.push({ pid: Number(name), argv });
  }
  return found;
}

/** Processes started for this sandbox (its XDG_RUNTIME_DIR in their environment), its session holder left out. */
export function sandboxProcesses(box: Sandbox): ProcessInfo[] {
  const mark = `XDG_RUNTIME_DIR=${box.env.XDG_RUNTIME_DIR as string}`;
  const session = sessionPid(box.runtime);
  return processes((_, environ) => environ.includes(mark)).filter((p) => p.pid !== session);
}

/** Processes whose command line holds token (a build's RUN script names its own). */
export function processesWith(token: string): ProcessInfo[] {
  return processes((argv) => argv.some((a) => a.includes(token)));
}

/** Mount points at or below dir in the sandbox session's mount namespace (proc(5) mountinfo). */
export function sessionMountsUnder(box: Sandbox, dir: string): string[] {
  const session = sessionPid(box.runtime);
  if (session === undefined) return [];
  const unescape = (s: string) => s.replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8)));
  return readFileSync(`/proc/${session}/mountinfo`, 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => point !== undefined)
    .map(unescape)
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** What the store's tmp/ holds (a dead command's leftovers, or live work). */
export function tmpEntries(storage: string): string[] {
  try {
    return readdirSync(join(storage, 'tmp')).sort();
  } catch {
    return [];
  }
}

/** The bytes of the regular files at or below path, as far as this user can see them (0 for what is gone). */
export function bytesUnder(path: string): number {
  try {
    const st = lstatSync(path);
    if (!st.isDirectory()) return st.isFile() ? st.size : 0;
    return readdirSync(path).reduce((sum, name) => sum + bytesUnder(join(path, name)), 0);
  } catch {
    return 0;
  }
}

/** Polls condition every 20 ms until it holds; throws with describe() after timeoutMs. */
export async function waitFor(condition: () => boolean, describe: () => string, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms: ${describe()}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

export interface Killed {
  /** The command finished before the kill (status set), or was killed (signal set). */
  status: number | null;
  signal: NodeJS.Signals | null;
  output: string;
  /** ms from the spawn to the kill (or to the exit, when it came first). */
  elapsedMs: number;
}

/**
 * Runs bin/hutch args and SIGKILLs it (or sends signal): once `after`
 * resolves (given the output so far, as an event to wait for), unless it
 * exits first. bin/hutch execs node in place, so the pid is the node process's.
 */
export function killDuring(
  args: string[],
  box: Sandbox,
  after: (output: Output) => Promise<void>,
  signal: NodeJS.Signals = 'SIGKILL',
): Promise<Killed> {
  const started = Date.now();
  const child = spawn(hutchBin, args, { env: box.env, stdio: ['ignore', 'pipe', 'pipe'] });
  const streams = { stdout: '', stderr: '' };
  let notify: () => void = () => undefined;
  const output: Output = {
    get text() {
      return `${streams.stdout}${streams.stderr}`;
    },
    lines() {
      // Whole lines of each stream (the last, unfinished one left out).
      return [streams.stdout, streams.stderr].flatMap((text) => text.split('\n').slice(0, -1));
    },
    get changed() {
      return new Promise<void>((resolve) => (notify = resolve));
    },
  };
  for (const name of ['stdout', 'stderr'] as const) {
    child[name].on('data', (chunk: Buffer) => {
      streams[name] += chunk.toString();
      notify();
    });
  }
  const closed = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal }));
  });
  let elapsedMs = 0;
  void Promise.race([after(output), closed]).then(() => {
    elapsedMs = Date.now() - started;
    if (child.exitCode === null && child.signalCode === null) child.kill(signal);
  });
  return closed.then(({ status, signal }) => ({ status, signal, output: output.text, elapsedMs }));
}

/** What a command wrote so far, and a promise of more. */
export interface Output {
  readonly text: string;
  lines(): string[];
  readonly changed: Promise<void>;
}

/**
 * Resolves once a whole line of the output is `line` (or never: the command's
 * exit ends the wait then). A whole line: a build's STEP line quotes the
 * instruction, so the echo that prints the line appears in it too.
 */
export async function outputShows(output: Output, line: string): Promise<void> {
  while (!output.lines().includes(line)) await output.changed;
}

export const delay = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
