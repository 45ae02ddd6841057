/** Running the built command (bin/hutch) in tests, each suite with its own session. */
import { expect } from 'vitest';
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hutchBin } from './requires.js';

export interface Sandbox {
  /** XDG_RUNTIME_DIR and XDG_DATA_HOME of their own, so the session is this suite's. */
  env: NodeJS.ProcessEnv;
  runtime: string;
  /** Removes its directories (through the session: the store holds subordinate-id files), then kills the session holder. */
  dispose(...alsoRemove: string[]): void;
}

export function sandbox(): Sandbox {
  const base = mkdtempSync(join(tmpdir(), 'hutch-test-'));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: base, XDG_DATA_HOME: join(base, 'data') };
  delete env.HUTCH_SESSION;
  const runtime = join(base, 'hutch');
  return {
    env,
    runtime,
    dispose(...alsoRemove) {
      if (sessionPid(runtime) !== undefined) {
        spawnSync(hutchBin, ['unshare', 'rm', '-rf', join(base, 'data'), ...alsoRemove], { env });
      }
      stopSession(runtime);
      rmSync(base, { recursive: true, force: true });
    },
  };
}

export function sessionPid(runtime: string): number | undefined {
  try {
    const pid = Number(readFileSync(join(runtime, 'session.pid'), 'utf8').trim());
    return readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'hutch-session\0' ? pid : undefined;
  } catch {
    return undefined;
  }
}

export function stopSession(runtime: string): void {
  const pid = sessionPid(runtime);
  if (pid === undefined) return;
  process.kill(pid, 'SIGKILL');
  // It is not our child: wait until it is gone from /proc.
  const deadline = Date.now() + 5000;
  while (sessionPid(runtime) === pid && Date.now() < deadline) spawnSync('sleep', ['0.01']);
}

export function hutch(
  args: string[],
  options: { env: NodeJS.ProcessEnv; input?: string; cwd?: string },
): SpawnSyncReturns<string> {
  return spawnSync(hutchBin, args, { env: options.env, input: options.input, cwd: options.cwd, encoding: 'utf8' });
}

export function hutchAsync(args: string[], options: { env: NodeJS.ProcessEnv }) {
  return spawn(hutchBin, args, { env: options.env, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** The lines of stderr that start with Error: (there must be exactly one on failure). */
export function errorLines(stderr: string): string[] {
  return stderr.split('\n').filter((l) => l.startsWith('Error: '));
}

/** Runs hutch and returns stdout; throws with stderr when it fails. */
export function ok(args: string[], box: { env: NodeJS.ProcessEnv }): string {
  const result = hutch(args, box);
  if (result.status !== 0) throw new Error(`hutch ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

/** Runs hutch expecting a failure with `status` and exactly one Error: line, which it returns. */
export function fail(args: string[], box: { env: NodeJS.ProcessEnv }, status = 125): string {
  const result = hutch(args, box);
  expect(result.status, `hutch ${args.join(' ')}: ${result.stderr}`).toBe(status);
  const lines = errorLines(result.stderr);
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0] as string;
}

/** What the store holds: blobs, unpacked layers and temp files, as a sorted list. */
export function storeListing(storage: string): string[] {
  return ['oci/blobs/sha256', 'layers', 'tmp']
    .flatMap((dir) => readdirSync(join(storage, dir)).map((name) => `${dir}/${name}`))
    .sort();
}

export interface Finished {
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs hutch without blocking this process: needed whenever the test itself
 * serves something hutch talks to (a fake registry, a token server).
 */
export function hutchRun(args: string[], box: { env: NodeJS.ProcessEnv }, input?: string): Promise<Finished> {
  const child = spawn(hutchBin, args, { env: box.env, stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input);
  return new Promise((resolve, reject) => {
    child.on('error', reject);
    child.on('close', (status, signal) => resolve({ status, signal, stdout, stderr }));
  });
}

export async function okAsync(args: string[], box: { env: NodeJS.ProcessEnv }): Promise<string> {
  const result = await hutchRun(args, box);
  if (result.status !== 0) throw new Error(`hutch ${args.join(' ')} exited ${result.status}: ${result.stderr}`);
  return result.stdout;
}

export async function failAsync(args: string[], box: { env: NodeJS.ProcessEnv }, status = 125): Promise<string> {
  const result = await hutchRun(args, box);
  expect(result.status, `hutch ${args.join(' ')}: ${result.stderr}`).toBe(status);
  const lines = errorLines(result.stderr);
  expect(lines, result.stderr).toHaveLength(1);
  return lines[0] as string;
}
