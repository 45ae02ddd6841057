/** Running the built command (bin/hutch) in tests, each suite with its own session. */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { hutchBin } from './requires.js';

export interface Sandbox {
  /** XDG_RUNTIME_DIR and XDG_DATA_HOME of their own, so the session is this suite's. */
  env: NodeJS.ProcessEnv;
  runtime: string;
  /** Kills this sandbox's session holder and removes its directories. */
  dispose(): void;
}

export function sandbox(): Sandbox {
  const base = mkdtempSync(join(tmpdir(), 'hutch-test-'));
  const env: NodeJS.ProcessEnv = { ...process.env, XDG_RUNTIME_DIR: base, XDG_DATA_HOME: join(base, 'data') };
  delete env.HUTCH_SESSION;
  const runtime = join(base, 'hutch');
  return {
    env,
    runtime,
    dispose() {
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
